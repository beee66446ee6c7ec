#!/usr/bin/python3
"""A stand-in for flash-opt that shows the fuzzer's oracle at work: it
aborts with an LLVM ERROR on a split of its input that holds both a
causal_bottom_right mask and a flash.attention_grad, and succeeds
otherwise."""
import os
import sys

text = open(sys.argv[1], errors="replace").read()
for split in text.split("// -----"):
    if "causal_bottom_right" in split and "attention_grad" in split:
        sys.stderr.write("LLVM ERROR: fake crash\n")
        sys.stderr.flush()
        os.abort()
sys.exit(0)
