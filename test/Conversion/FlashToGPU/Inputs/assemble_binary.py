"""Assembles with ptxas (argv[1]) the PTX of every gpu.binary object in the
output of flash-opt --flash-to-ptx (stdin), each for its target's chip, and
prints the chip and the entries of each; fails where ptxas fails."""
import re
import subprocess
import sys
import tempfile

ptxas = sys.argv[1]
text = sys.stdin.read()
objects = re.findall(
    r'chip = "([^"]+)"[^\n]*?assembly = "((?:[^"\\]|\\.)*)"', text)
if not objects:
    sys.exit("no gpu.binary object with PTX in the input")
for chip, escaped in objects:
    # MLIR prints a string's backslash as \\ and other special bytes as \XX.
    ptx = re.sub(r"\\(\\|[0-9A-Fa-f]{2})",
                 lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1), 16)),
                 escaped)
    with tempfile.NamedTemporaryFile("w", suffix=".ptx") as f:
        f.write(ptx)
        f.flush()
        subprocess.run([ptxas, "-arch=" + chip, f.name, "-o", "/dev/null"],
                       check=True)
    entries = re.findall(r"\.entry (\w+)\(", ptx)
    print(f"{chip}: assembled {' '.join(entries)}")
