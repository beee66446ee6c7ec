#!/usr/bin/env python3
"""Execution check of flash-raise-attention on the CPU.

For each function named with --func in an .mlir file (a naive attention
graph), builds a module holding that function and a @main that calls it on
pseudo-random inputs (fixed seed) and prints the result, then runs it twice
through mlir-runner:

  original:  flash-opt --flash-to-cpu
  raised:    flash-opt --flash-raise-attention --flash-to-cpu

(--pre adds passes in front of both, e.g. --flash-decompose-attention to
check decompose-then-raise.)

It first checks that flash-raise-attention does put a flash.attention into
the function, then compares the two printed results: the relative
difference max|raised - original| / max|original| must be within the bound
of the result's element type (BOUNDS), and no NaN may appear. It prints, per
function, the error and PASS or FAIL, and exits non-zero on any FAIL.

Inputs, per argument, by --kinds (one letter per argument, default 'x'):
  x  uniform in [-gain/2, gain/2] (logits of order 1..5)
  p  additive padding mask: 0, or -inf for about a quarter of the keys
     (key 0 always visible)
  b  boolean mask, true (attend) for about 85% of the entries (key 0 always)
  n  boolean "masked" flags for masked_fill: the negation of 'b'
  e  like 'b', but about a quarter of the rows keep no key at all
  h  like 'n', but about a quarter of the rows hide every key
  r  small real-valued additive bias in [-1, 1]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

BOUNDS = {"f32": 2e-5, "f16": 5e-3, "bf16": 4e-2}

TENSOR = re.compile(r"tensor<([0-9x]*)x?(f32|f16|bf16|i1)>")


def parse_type(t):
    m = TENSOR.fullmatch(t.strip())
    if not m:
        raise SystemExit(f"unsupported type {t}")
    dims = [int(d) for d in m.group(1).split("x") if d]
    return dims, m.group(2)


def extract(text, name):
    """The text of func.func @name and the attribute aliases of the file."""
    start = re.search(rf"^\s*func\.func @{name}\(", text, re.M).start()
    start = text.index("func.func", start)
    depth, i = 0, text.index("{", text.index(")", start))
    # Skip to the body's opening brace: the first '{' after the signature.
    while True:
        c = text[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                break
        i += 1
    func = text[start:i + 1]
    aliases = "\n".join(l for l in text.splitlines()
                        if re.match(r"\s*#\w+\s*=", l))
    header = func[:func.index("{")]
    sig = re.match(r"func\.func @\w+\((.*)\)\s*->\s*(.*)", header, re.S)
    args = [a.split(":", 1)[1].strip()
            for a in split_top(sig.group(1)) if a.strip()]
    result = sig.group(2).strip()
    return aliases, func, args, result


def split_top(s):
    out, depth, cur = [], 0, ""
    for c in s:
        if c in "<([":
            depth += 1
        elif c in ">)]":
            depth -= 1
        if c == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    out.append(cur)
    return out


def make_input(rng, dims, elt, kind, gain):
    shape = tuple(dims)
    if kind == "x":
        return (rng.random(shape) - 0.5) * gain
    if kind == "r":
        return rng.random(shape) * 2.0 - 1.0
    if kind == "p":
        keep = rng.random(shape) > 0.25
        keep[..., 0] = True
        return np.where(keep, 0.0, -np.inf)
    if kind in "bneh":
        keep = rng.random(shape) > 0.15
        keep[..., 0] = True
        if kind in "eh":
            keep[rng.random(shape[:-1]) < 0.25] = False
        return keep if kind in "be" else ~keep
    raise SystemExit(f"unknown input kind {kind}")


def nested(a):
    if a.ndim == 0:
        return "true" if a else "false"
    return "[" + ", ".join(nested(x) for x in a) + "]"


def literal(value, dims, elt):
    t = "tensor<" + "x".join(str(d) for d in dims) + ("x" if dims else "") + \
        elt + ">"
    a = np.asarray(value)
    if elt == "i1":
        return f"dense<{nested(a.astype(bool))}> : {t}", t
    if elt == "f32":
        raw = a.astype("<f4").tobytes()
    elif elt == "f16":
        raw = a.astype("<f2").tobytes()
    else:  # bf16: round to nearest even from f32
        bits = a.astype("<f4").view("<u4").astype(np.uint64)
        bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")
        raw = bits.tobytes()
    return f'dense<"0x{raw.hex().upper()}"> : {t}', t


def build(text, name, kinds, gain, seed):
    aliases, func, args, result = extract(text, name)
    rng = np.random.default_rng(seed)
    lines = [aliases, "module {", func,
             "  func.func private @printMemrefF32(tensor<*xf32>)",
             "  func.func @main() {"]
    names = []
    for n, t in enumerate(args):
        dims, elt = parse_type(t)
        kind = kinds[n] if n < len(kinds) else "x"
        value = make_input(rng, dims, elt, kind, gain)
        lit, ty = literal(value, dims, elt)
        if elt in ("f16", "bf16") and np.isneginf(np.asarray(value)).any():
            raise SystemExit("use f32 for -inf masks")
        lines.append(f"    %a{n} = arith.constant {lit}")
        names.append(f"%a{n}")
    lines.append(f"    %r = call @{name}({', '.join(names)}) : "
                 f"({', '.join(args)}) -> {result}")
    rdims, relt = parse_type(result)
    # The bound follows the least precise float type of the graph.
    order = ["f32", "f16", "bf16"]
    bound_elt = max([relt] + [parse_type(t)[1] for t in args
                              if parse_type(t)[1] != "i1"], key=order.index)
    value, t = "%r", result
    if relt != "f32":
        f32_t = t.rsplit("x", 1)[0] + "xf32>"
        lines.append(f"    %rf = arith.extf %r : {t} to {f32_t}")
        value, t = "%rf", f32_t
    lines.append(f"    %u = tensor.cast {value} : {t} to tensor<*xf32>")
    lines.append("    call @printMemrefF32(%u) : (tensor<*xf32>) -> ()")
    lines += ["    return", "  }", "}"]
    return "\n".join(lines) + "\n", bound_elt


NUMBER = re.compile(r"-?inf|-?nan|-?\d+(?:\.\d*)?(?:e[+-]?\d+)?")


def sh(cmd, stdin=None):
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr[-3000:])
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    return r


def run(args, path, passes):
    opt = sh([args.flash_opt, path] + passes + ["--flash-to-cpu"])
    libs = ",".join(os.path.join(args.mlir_lib_dir, lib) for lib in
                    ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))
    out = sh([args.mlir_runner, "-e", "main", "-entry-point-result=void",
              f"-shared-libs={libs}"], opt.stdout)
    data = out.stdout.split("data =", 1)[1]
    return np.array([float(t) for t in NUMBER.findall(data)])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--func", action="append", required=True,
                   help="NAME or NAME:KINDS, e.g. masked:xxxp")
    p.add_argument("--flash-opt", required=True)
    p.add_argument("--mlir-runner", required=True)
    p.add_argument("--mlir-lib-dir", required=True)
    p.add_argument("--gain", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--bound", type=float, default=None,
                   help="relative bound instead of the element type's")
    p.add_argument("--pre", default="",
                   help="passes applied before both runs, e.g. "
                        "--flash-decompose-attention")
    args = p.parse_args()
    text = open(args.file).read()
    failed = False
    for spec in args.func:
        name, _, kinds = spec.partition(":")
        module, elt = build(text, name, kinds, args.gain, args.seed)
        with tempfile.NamedTemporaryFile("w", suffix=".mlir",
                                         delete=False) as f:
            f.write(module)
            path = f.name
        try:
            pre = args.pre.split()
            raised = sh([args.flash_opt, path] + pre +
                        ["--flash-raise-attention"]).stdout
            count = raised.count("flash.attention")
            orig = run(args, path, pre)
            new = run(args, path, pre + ["--flash-raise-attention"])
        finally:
            os.unlink(path)
        bound = args.bound if args.bound is not None else BOUNDS[elt]
        if orig.shape != new.shape or np.isnan(orig).any() or \
                np.isnan(new).any():
            err = np.inf
        else:
            err = float(np.abs(new - orig).max() /
                        max(np.abs(orig).max(), 1e-30))
        ok = count >= 1 and err <= bound
        failed |= not ok
        print(f"{name}: raised {count} flash.attention, {orig.size} values, "
              f"max relative difference {err:.3e} (bound {bound:.0e}): "
              f"{'PASS' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
