"""Assembles every PTX file of a flash-aot directory with `ptxas -v` and
reports the kernels that spill (stack frame, spill stores or loads)."""
import concurrent.futures
import json
import os
import re
import subprocess
import sys

ptxas, directory = sys.argv[1], sys.argv[2]
with open(os.path.join(directory, "manifest.json")) as f:
    kernels = json.load(f)["kernels"]


def check(entry):
    out = subprocess.run(
        [ptxas, "-v", "-arch=" + entry["spec"]["chip"],
         os.path.join(directory, entry["ptx"]), "-o", os.devnull],
        capture_output=True, text=True, check=True).stderr
    spilled = [int(n) for n in
               re.findall(r"(\d+) bytes (?:stack frame|spill stores|spill loads)",
                          out)]
    return entry["name"], sum(spilled)


with concurrent.futures.ThreadPoolExecutor(2) as pool:
    results = list(pool.map(check, kernels))
bad = [(name, n) for name, n in results if n]
for name, n in bad:
    print(f"SPILL {name}: {n} bytes")
print(f"{len(results)} kernels assembled, {len(bad)} spill")
sys.exit(1 if bad else 0)
