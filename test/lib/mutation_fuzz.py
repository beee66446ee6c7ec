#!/usr/bin/env python3
"""Mutation fuzzer for flash-opt's parser, verifiers, passes and pipelines.

Seeds: the .mlir files of test/ and examples/, split at `// -----` into
units, with their comment lines dropped. Each input is a unit mutated one to
four times (mutate): tensor shapes (a dimension made dynamic, 0, 1, odd, huge
or near INT64_MAX; a dimension added or dropped), element types, attribute
values (mask kinds, windows, scale, softcap, masked_score, block sizes),
integers and floats anywhere, SSA names swapped, lines deleted, duplicated,
swapped or spliced from another unit, truncation, bytes flipped.

Each input runs through one of flash-opt's passes or pipelines (PIPELINES,
with options drawn from their edges: tile sizes 0, negative, 2^20 + 1, 2^63
- 1, unknown chips, plan overrides...). Inputs of one pipeline are batched
into one flash-opt process with --split-input-file; when a batch fails, it is
split until the failing inputs are found alone.

Oracle: a clean diagnostic (exit 1) or success (exit 0) is fine; a signal, an
`LLVM ERROR`, a stack dump, an assertion, `terminate called`, any other exit
status, or a run past --timeout seconds is a failure. Each failure is reduced
by line-delta debugging (ddmin over lines, keeping the failure's signature)
and written to --out-dir as a reproducer: a .mlir file whose header gives the
command, the signature and the stderr. A failure is upstream's when the stock
mlir-opt-22 fails the same way on the upstream-only part: the IR that reaches
the failing upstream pass (--mlir-print-ir-before-all), when it holds no
flash op, or the input itself when the parser fails and it holds no flash
text; those are reported (`upstream`) but do not fail the run.

Output: `fuzz: seed S, N inputs` first; one line per failure; the last line
`fuzz: PASS (...)` or `fuzz: FAIL (...)`, with exit status 1 on a failure in
flash-mlir's code. A run is replayed by its seed and input count (and
--batch): input i depends on (seed, i) only.
"""

import argparse
import hashlib
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time

INT64_MAX = 2 ** 63 - 1
INTERESTING_INTS = [0, 1, -1, 2, 3, 7, 15, 16, 17, 63, 64, 65, 127, 128, 255,
                    256, 1024, 2 ** 20, 2 ** 20 + 1, 2 ** 31 - 1, 2 ** 31,
                    2 ** 32, 2 ** 32 + 1, 2 ** 62, INT64_MAX - 1, INT64_MAX,
                    -2 ** 31, -2 ** 63, 2 ** 64, 10 ** 30]
INTERESTING_FLOATS = ["0.0", "-0.0", "1.0", "-1.0", "1.0e-30", "1.0e+38",
                      "3.4028235e+38", "-3.4028235e+38", "1.0e+300", "0x7FC00000",
                      "0x7F800000", "0xFF800000", "0.5", "-0.125", "1.0e-45",
                      "0x00000001", "6.5e+04", "-1.0e+04"]
DIMS = ["?", "0", "1", "2", "3", "5", "7", "16", "17", "31", "64", "65", "80",
        "96", "128", "129", "192", "256", "257", "512", "100000", "2147483647",
        "2147483648", "4294967296", "4611686018427387904", "9223372036854775807"]
ELEMENT_TYPES = ["f16", "bf16", "f32", "f64", "i1", "i8", "i32", "i64", "index",
                 "f8E4M3FN", "f8E5M2", "tf32", "complex<f32>", "f128", "ui8"]
MASK_KINDS = ["none", "causal", "causal_bottom_right", "sliding_window",
              "bogus", "", "causal causal"]
CHIPS = ["sm_80", "sm_86", "sm_89", "sm_90", "sm_90a", "sm_70", "sm_100",
         "bogus", ""]
FLASH_OP_NAMES = ["flash.attention", "flash.attention_grad",
                  "flash.block_sparse_layout"]


# --- Corpus ------------------------------------------------------------------


def load_corpus(root):
    """Units of the .mlir files under test/ and examples/: the text between
    `// -----` separators, without full-line comments."""
    units = []
    for top in ("test", "examples"):
        for dirpath, _, files in sorted(os.walk(os.path.join(root, top))):
            for name in sorted(files):
                if not name.endswith(".mlir"):
                    continue
                with open(os.path.join(dirpath, name), errors="replace") as f:
                    text = f.read()
                for chunk in re.split(r"^// -----.*$", text, flags=re.M):
                    lines = [l for l in chunk.splitlines()
                             if not l.lstrip().startswith("//") and l.strip()]
                    if lines:
                        units.append("\n".join(lines) + "\n")
    return units


# --- Mutations ---------------------------------------------------------------

TENSOR = re.compile(r"(tensor|memref|vector)<([^<>]*?)>")
INTEGER = re.compile(r"(?<![\w%#@.^])-?\d+(?![\w.])")
FLOAT = re.compile(r"(?<![\w%#@])-?\d+\.\d*(?:e[+-]?\d+)?|0x[0-9A-Fa-f]{8}\b")
SSA = re.compile(r"%[\w.$-]+(?:#\d+)?")


def pick_match(rng, pattern, text):
    matches = list(pattern.finditer(text))
    return rng.choice(matches) if matches else None


def splice(text, match, replacement, group=0):
    return text[:match.start(group)] + replacement + text[match.end(group):]


def mutate_shape(rng, text, corpus):
    m = pick_match(rng, TENSOR, text)
    if not m:
        return None
    parts = m.group(2).split("x")
    dims, elt = parts[:-1], parts[-1]
    if not all(d == "?" or d.isdigit() for d in dims):
        return None
    r = rng.random()
    if r < 0.6 and dims:
        dims[rng.randrange(len(dims))] = rng.choice(DIMS)
    elif r < 0.75 and dims:
        del dims[rng.randrange(len(dims))]
    elif r < 0.9:
        dims.insert(rng.randrange(len(dims) + 1), rng.choice(DIMS))
    else:
        dims = ["?"] * len(dims)
    return splice(text, m, "x".join(dims + [elt]), 2)


def mutate_element_type(rng, text, corpus):
    m = pick_match(rng, re.compile(r"x(f16|bf16|f32|f64|i1|i8|i32|i64)>"),
                   text)
    if not m:
        return None
    return splice(text, m, rng.choice(ELEMENT_TYPES), 1)


def mutate_mask_kind(rng, text, corpus):
    m = pick_match(rng, re.compile(r"#flash\.mask<([^>]*)>"), text)
    if m:
        return splice(text, m, rng.choice(MASK_KINDS), 1)
    m = pick_match(rng, re.compile(r"flash\.attention(_grad)? [^{\n]*\{"),
                   text)
    if not m:
        return None
    return splice(text, m, m.group(0) + "mask_kind = #flash.mask<"
                  + rng.choice(MASK_KINDS) + ">, ")


def attribute_value(rng, name):
    if name in ("window", "block_sizes"):
        n = rng.choice([2, 2, 2, 1, 3, 0])
        vals = ", ".join(str(rng.choice(INTERESTING_INTS)) for _ in range(n))
        elt = rng.choice(["i64", "i64", "i32"])
        return f"array<{elt}: {vals}>" if n else f"array<{elt}>"
    return f"{rng.choice(INTERESTING_FLOATS)} : " + rng.choice(
        ["f32", "f32", "f64", "f16", "i32"])


def mutate_attribute(rng, text, corpus):
    """Changes, adds or drops one of the flash ops' attributes."""
    names = ["window", "scale", "softcap", "masked_score", "block_sizes"]
    m = pick_match(rng, re.compile(
        r"\b(window|scale|softcap|masked_score|block_sizes) = "
        r"(array<[^>]*>|[^,}\n]+)"), text)
    r = rng.random()
    if m and r < 0.6:
        return splice(text, m, attribute_value(rng, m.group(1)), 2)
    if m and r < 0.75:
        return splice(text, m, "")
    m = pick_match(rng, re.compile(r"flash\.attention(_grad)? [^{\n]*\{"),
                   text)
    if not m:
        return None
    name = rng.choice(names)
    return splice(text, m, m.group(0) + f"{name} = "
                  + attribute_value(rng, name) + ", ")


def mutate_integer(rng, text, corpus):
    m = pick_match(rng, INTEGER, text)
    if not m:
        return None
    return splice(text, m, str(rng.choice(INTERESTING_INTS)))


def mutate_float(rng, text, corpus):
    m = pick_match(rng, FLOAT, text)
    if not m:
        return None
    return splice(text, m, rng.choice(INTERESTING_FLOATS))


def mutate_ssa(rng, text, corpus):
    names = sorted(set(SSA.findall(text)))
    m = pick_match(rng, SSA, text)
    if not m or len(names) < 2:
        return None
    return splice(text, m, rng.choice(names))


def mutate_dim_everywhere(rng, text, corpus):
    """Replaces one extent in every shaped type that has it (the same
    length or head count throughout), keeping the unit consistent."""
    values = sorted({d for m in TENSOR.finditer(text)
                     for d in m.group(2).split("x")[:-1]
                     if d == "?" or d.isdigit()})
    if not values:
        return None
    old, new = rng.choice(values), rng.choice(DIMS)

    def swap(m):
        parts = m.group(2).split("x")
        parts = [new if p == old and i < len(parts) - 1 else p
                 for i, p in enumerate(parts)]
        return f"{m.group(1)}<{'x'.join(parts)}>"
    return TENSOR.sub(swap, text)


def mutate_type_everywhere(rng, text, corpus):
    """Replaces one element type in every shaped type (f16 -> bf16...)."""
    found = sorted(set(re.findall(r"x(f16|bf16|f32|f64|i1|i32)>", text)))
    if not found:
        return None
    old = rng.choice(found)
    return re.sub(rf"x{old}>", f"x{rng.choice(ELEMENT_TYPES)}>", text)


def lines_of(text):
    return text.splitlines(keepends=True)


def mutate_delete_line(rng, text, corpus):
    lines = lines_of(text)
    if len(lines) < 2:
        return None
    i = rng.randrange(len(lines))
    del lines[i:i + rng.choice([1, 1, 1, 2, 3])]
    return "".join(lines)


def mutate_duplicate_line(rng, text, corpus):
    lines = lines_of(text)
    if not lines:
        return None
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return "".join(lines)


def mutate_swap_lines(rng, text, corpus):
    lines = lines_of(text)
    if len(lines) < 2:
        return None
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


def mutate_splice(rng, text, corpus):
    """Inserts lines of another unit (an op from elsewhere, same names)."""
    other = lines_of(rng.choice(corpus))
    lines = lines_of(text)
    if not other:
        return None
    i = rng.randrange(len(other))
    piece = other[i:i + rng.choice([1, 1, 2, 4])]
    lines[rng.randrange(len(lines) + 1):0] = piece
    return "".join(lines)


def mutate_truncate(rng, text, corpus):
    if len(text) < 2:
        return None
    return text[:rng.randrange(1, len(text))]


def mutate_bytes(rng, text, corpus):
    if not text:
        return None
    i = rng.randrange(len(text))
    r = rng.random()
    junk = rng.choice(["{", "}", "(", ")", "<", ">", ",", ":", "x", "?",
                       "%", "#", "\"", "\\", "\x00", "\xff", " ", "\n", "-",
                       "0", "!", "^", "@", "[", "]", "=", "->"])
    if r < 0.4:
        return text[:i] + junk + text[i + 1:]
    if r < 0.7:
        return text[:i] + junk + text[i:]
    return text[:i] + text[i + rng.randrange(1, 8):]


def mutate_flash_op(rng, text, corpus):
    """Renames one flash op into another (different operand lists) or drops
    an optional operand group (mask, block_sparse, full)."""
    r = rng.random()
    if r < 0.5:
        m = pick_match(rng, re.compile(r"flash\.(attention_grad|attention|"
                                       r"block_sparse_layout)\b"), text)
        if not m:
            return None
        return splice(text, m, rng.choice(FLASH_OP_NAMES))
    m = pick_match(rng, re.compile(r" (mask|block_sparse|full)\([^)]*\)"),
                   text)
    if not m:
        return None
    return splice(text, m, "")


MUTATIONS = [
    (mutate_shape, 6), (mutate_element_type, 3), (mutate_mask_kind, 2),
    (mutate_attribute, 4), (mutate_integer, 3), (mutate_float, 1),
    (mutate_ssa, 2), (mutate_delete_line, 3), (mutate_duplicate_line, 2),
    (mutate_swap_lines, 1), (mutate_splice, 2), (mutate_truncate, 1),
    (mutate_bytes, 2), (mutate_flash_op, 2), (mutate_dim_everywhere, 8),
    (mutate_type_everywhere, 3),
]


def mutate(rng, unit, corpus):
    """The unit mutated one to four times; returns (text, mutation names)."""
    text, applied = unit, []
    funcs, weights = zip(*MUTATIONS)
    for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3, 4])):
        for _attempt in range(5):
            f = rng.choices(funcs, weights)[0]
            new = f(rng, text, corpus)
            if new is not None and new != text:
                text = new
                applied.append(f.__name__[len("mutate_"):])
                break
    # `// -----` would split the input further.
    return text.replace("// -----", "//"), applied


# --- Generated seeds ---------------------------------------------------------
#
# Half of the inputs start from a generated unit instead of the corpus: a
# function whose arguments feed a valid flash.attention (forward, with lse or
# not) or flash.attention_grad, with random extents (static or dynamic, often
# 1 or odd), GQA, masks, windows, scale, softcap, element masks and
# block-sparse layouts. The mutations then push it off the valid set.


def shaped(dims, elt):
    return "tensor<" + "x".join(str(d) for d in dims) + f"x{elt}>"


def generate_unit(rng):
    dyn = lambda d: "?" if rng.random() < 0.2 else d
    B = rng.choice([1, 1, 2, 3])
    Hkv = rng.choice([1, 2, 3])
    Hq = Hkv * rng.choice([1, 1, 2, 4])
    Lq, Lk = (rng.choice([1, 2, 7, 16, 17, 64, 100, 128, 257])
              for _ in range(2))
    D = rng.choice([1, 8, 16, 64, 80, 96, 128, 192, 256])
    Dv = D if rng.random() < 0.7 else rng.choice([8, 16, 64, 128])
    elt = rng.choice(["f16", "bf16", "f32"])
    q = shaped([dyn(B), dyn(Hq), dyn(Lq), dyn(D)], elt)
    k = shaped([dyn(B), dyn(Hkv), dyn(Lk), dyn(D)], elt)
    v = shaped([dyn(B), dyn(Hkv), dyn(Lk), dyn(Dv)], elt)
    o = shaped([B, Hq, Lq, Dv], elt)
    lse = shaped([B, Hq, Lq], "f32")
    args = [f"%q: {q}", f"%k: {k}", f"%v: {v}"]
    extra = ""
    attrs = []
    kind = rng.choice(["none", "causal", "causal_bottom_right",
                       "sliding_window"])
    attrs.append(f"mask_kind = #flash.mask<{kind}>")
    if kind == "sliding_window":
        attrs.append("window = array<i64: %d, %d>" % (
            rng.choice([0, 1, 5, 64, INT64_MAX]),
            rng.choice([0, 1, 5, 64, INT64_MAX])))
    if rng.random() < 0.3 or "?" in q.split("x")[3] + k.split("x")[3]:
        attrs.append(f"scale = {rng.choice(['0.125', '-0.5', '2.0'])} : f32")
    if rng.random() < 0.2:
        attrs.append(f"softcap = {rng.choice(['30.0', '1.0'])} : f32")
    r = rng.random()
    if r < 0.2:
        mshape = [d if rng.random() < 0.5 else 1 for d in (B, Hq, Lq, Lk)]
        mt = shaped(mshape, rng.choice(["i1", elt]))
        args.append(f"%m: {mt}")
        extra += f" mask(%m : {mt})"
    elif r < 0.4:
        bq, bkv = rng.choice([16, 64, 128]), rng.choice([16, 64, 128])
        nq, nkv = -(-Lq // bq), -(-Lk // bkv)
        ct = shaped([B, Hq, nq], "i32")
        it = shaped([B, Hq, nq, nkv], "i32")
        args += [f"%cnt: {ct}", f"%idx: {it}"]
        extra += f" block_sparse(%cnt, %idx : {ct}, {it})"
        if rng.random() < 0.4:
            args += [f"%fcnt: {ct}", f"%fidx: {it}"]
            extra += f" full(%fcnt, %fidx : {ct}, {it})"
        attrs.append(f"block_sizes = array<i64: {bq}, {bkv}>")
    attr_text = "{" + ", ".join(attrs) + "}"
    if rng.random() < 0.3:
        args += [f"%o: {o}", f"%do: {o}", f"%lse: {lse}"]
        body = (f"  %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o, %do,"
                f" %lse{extra} {attr_text}\n      : {q}, {k}, {v}, {o}, {o},"
                f" {lse} -> {q}, {k}, {v}\n  return %dq, %dk, %dv : {q}, {k},"
                f" {v}\n")
        results = f"{q}, {k}, {v}"
    elif rng.random() < 0.5:
        body = (f"  %out, %l = flash.attention %q, %k, %v{extra} {attr_text}"
                f"\n      : {q}, {k}, {v} -> {o}, {lse}\n"
                f"  return %out, %l : {o}, {lse}\n")
        results = f"{o}, {lse}"
    else:
        body = (f"  %out = flash.attention %q, %k, %v{extra} {attr_text}"
                f"\n      : {q}, {k}, {v} -> {o}\n  return %out : {o}\n")
        results = o
    return (f"func.func @gen({', '.join(args)}) -> ({results}) {{\n"
            + body + "}\n")


# --- Pipelines ---------------------------------------------------------------

TILE_SIZES = [1, 2, 3, 16, 17, 64, 128, 0, -1, 2 ** 20, 2 ** 20 + 1,
              2 ** 31, 2 ** 32, INT64_MAX]
PLAN_VALUES = [0, 1, 16, 32, 48, 64, 128, 256, 4096, -16, 2 ** 31, INT64_MAX]


def tile_options(rng, edge=0.3):
    sizes = [rng.choice(TILE_SIZES) if rng.random() < edge else
             rng.choice([1, 3, 16, 32, 64]) for _ in range(2)]
    opts = []
    if rng.random() < 0.8:
        opts.append(f"tile-q={sizes[0]}")
    if rng.random() < 0.8:
        opts.append(f"tile-kv={sizes[1]}")
    return " ".join(opts)


def gpu_options(rng):
    opts = [f"chip={rng.choice(CHIPS) if rng.random() < 0.2 else rng.choice(CHIPS[:5])}"]
    for name in ("cta-q", "cta-kv", "min-ctas-per-sm"):
        if rng.random() < 0.2:
            opts.append(f"{name}={rng.choice(PLAN_VALUES)}")
    for name in ("copy-pointers", "query-in-registers"):
        if rng.random() < 0.1:
            opts.append(f"{name}={rng.choice(['yes', 'no', 'table'])}")
    return " ".join(opts)


def with_options(name, opts):
    return f"--{name}={opts}" if opts else f"--{name}"


# Each: (name, weight, inputs per batch, rng -> flash-opt arguments).
PIPELINES = [
    ("parse", 6, 60, lambda rng: []),
    ("parse-generic", 1, 60, lambda rng: ["--mlir-print-op-generic"]),
    ("decompose", 6, 40, lambda rng: ["--flash-decompose-attention"]),
    ("decompose-canonicalize", 3, 40,
     lambda rng: ["--flash-decompose-attention", "--canonicalize", "--cse"]),
    ("tile", 8, 40,
     lambda rng: [with_options("flash-tile-attention", tile_options(rng))]),
    ("tile-canonicalize", 3, 40,
     lambda rng: [with_options("flash-tile-attention", tile_options(rng)),
                  "--canonicalize", "--cse"]),
    ("raise", 4, 40, lambda rng: ["--flash-raise-attention"]
     + (["--flash-raise-attention=emit-remarks"] if rng.random() < 0.3
        else [])),
    ("raise-tile", 2, 40,
     lambda rng: ["--flash-decompose-aggregates", "--flash-raise-attention",
                  with_options("flash-tile-attention", tile_options(rng))]),
    ("decompose-aggregates", 1, 40,
     lambda rng: ["--flash-decompose-aggregates"]),
    ("to-cpu", 6, 20,
     lambda rng: [with_options("flash-to-cpu", tile_options(rng, 0.2))]),
    ("decompose-to-cpu", 3, 20,
     lambda rng: ["--flash-decompose-attention",
                  with_options("flash-to-cpu", tile_options(rng, 0.2))]),
    ("to-gpu", 4, 20,
     lambda rng: [with_options("convert-flash-to-gpu", gpu_options(rng))]),
    ("to-ptx", 1, 5,
     lambda rng: [with_options("flash-to-ptx",
                               f"chip={rng.choice(CHIPS[:5])}")]),
    ("externalize", 1, 40,
     lambda rng: ["--flash-externalize-dynamic-shared-memory"]),
    ("nested", 1, 20, lambda rng: [
        "--pass-pipeline=builtin.module(func.func(" + rng.choice(
            ["flash-to-cpu", "flash-to-ptx", "flash-tile-attention",
             "flash-decompose-attention", "flash-raise-attention",
             "convert-flash-to-gpu"]) + "))"]),
]


# --- Running -----------------------------------------------------------------

CRASH_MARKS = ("LLVM ERROR", "Stack dump", "PLEASE submit a bug report",
               "Assertion `", "terminate called", "UNREACHABLE executed",
               "AddressSanitizer", "runtime error:")
# Frames of the signal handler, abort and the C++ runtime, skipped when
# looking for the frame that failed.
SKIP_FRAMES = re.compile(r"llvm::sys::|SignalHandler|__restore_rt|libc\.so|"
                         r"\babort\b|\braise\b|pthread_kill|"
                         r"report_fatal_error|reportFatal|CrashRecovery|"
                         r"__cxa|std::terminate|__gnu_cxx|libstdc\+\+|"
                         r"libgcc_s")
FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ (.*?) ?(?:\((/[^)]*)\))?$", re.M)
# The pretty stack trace: "1. MLIR Parser: custom op parser 'x'", "Running
# pass 'y'"...
PRETTY = re.compile(r"^\d+\.\t(.*)$", re.M)


def first_frame(stderr):
    """(function or '', library+offset or '') of the first frame past the
    signal handler and abort."""
    frames = list(FRAME.finditer(stderr))
    # The handler's own frames end at the signal trampoline (in libc).
    handler = [i for i, m in enumerate(frames[:10])
               if SKIP_FRAMES.search(m.group(0))]
    for m in frames[handler[-1] + 1 if handler else 0:]:
        if SKIP_FRAMES.search(m.group(0)):
            continue
        func = re.sub(r"\(.*", "", m.group(1) or "").strip()
        lib = os.path.basename(m.group(2) or "")
        return func, lib
    return "", ""


def limit_memory(megabytes):
    def apply():
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


class Runner:
    def __init__(self, args):
        self.args = args
        self.runs = 0
        self.env = dict(os.environ)
        self.env["PATH"] = args.llvm_bin + os.pathsep + self.env.get("PATH", "")

    def run(self, tool, tool_args, text, timeout=None):
        """(exit status or 'timeout', stderr) of tool on text."""
        self.runs += 1
        if tool == self.args.flash_opt:
            tool_args = tool_args + ["--mlir-print-ir-after-failure"]
        with tempfile.NamedTemporaryFile("w", suffix=".mlir", delete=False,
                                         dir=self.args.work_dir,
                                         errors="replace") as f:
            f.write(text)
            path = f.name
        try:
            done = subprocess.run(
                [tool, path, "-o", os.devnull] + tool_args,
                capture_output=True, timeout=timeout or self.args.timeout,
                preexec_fn=limit_memory(self.args.memory_mb), env=self.env)
            return done.returncode, done.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            return "timeout", (e.stderr or b"").decode(errors="replace")
        finally:
            os.unlink(path)


def signature(status, stderr):
    """None when the run is fine (success or a clean diagnostic), else a
    short stable description of the failure: its kind, the last entry of
    the pretty stack trace (the pass or parser that ran) and the first frame
    that failed."""
    if status == "timeout":
        return "hang"
    if status in (0, 1) and not any(m in stderr for m in CRASH_MARKS):
        return invalid_ir(stderr)
    kind = None
    for line in stderr.splitlines():
        if line.startswith("LLVM ERROR:"):
            kind = re.sub(r"\d+", "N", line.strip())[:160]
        elif "Assertion `" in line:
            kind = "assertion: " + line.split("Assertion", 1)[1][:140]
        elif line.startswith("terminate called"):
            kind = line.strip()[:120]
        if kind:
            break
    if kind is None:
        kind = (f"signal {-status}" if isinstance(status, int) and status < 0
                else f"exit {status}")
    pretty = PRETTY.findall(stderr)
    if pretty and not pretty[-1].startswith("Program arguments"):
        kind += " [" + re.sub(r"@[\w$.-]+", "@F", pretty[-1].strip())[:120] + "]"
    func, lib = first_frame(stderr)
    if func or lib:
        kind += f" in {func[:120] or lib}"
    return kind


FAILED_PASS = re.compile(r"^// -----// IR Dump After (\w+) Failed", re.M)
ERROR_OP = re.compile(r"^[^\n]*error: '([\w.]+)' op ([^\n]*)$", re.M)


def invalid_ir(stderr):
    """A flash pass that left IR the verifier rejects (an upstream op that
    it built wrongly): the error before an `IR Dump After Flash... Failed`
    (--mlir-print-ir-after-failure) names a non-flash op. A flash pass that
    refuses its input reports on the flash op instead."""
    for dump in FAILED_PASS.finditer(stderr):
        if not dump.group(1).startswith("Flash"):
            continue
        errors = list(ERROR_OP.finditer(stderr, 0, dump.start()))
        if errors and not errors[-1].group(1).startswith("flash."):
            message = re.sub(r"-?\d+", "N", errors[-1].group(2))[:100]
            return (f"invalid IR after {dump.group(1)}: "
                    f"'{errors[-1].group(1)}' op {message}")
    return None


def where(stderr):
    """The library of the first failing frame (flash or upstream)."""
    return first_frame(stderr)[1].split("+")[0] or "?"


def ddmin_lines(lines, still_fails, budget):
    """Line-delta reduction: removes chunks of lines while still_fails."""
    n = 2
    while len(lines) >= 2 and budget[0] > 0:
        size = -(-len(lines) // n)
        reduced = False
        for start in range(0, len(lines), size):
            if budget[0] <= 0:
                break
            rest = lines[:start] + lines[start + size:]
            budget[0] -= 1
            if rest and still_fails(rest):
                lines, n, reduced = rest, max(n - 1, 2), True
                break
        if not reduced:
            if n >= len(lines):
                break
            n = min(len(lines), 2 * n)
    return lines


def minimize(runner, text, tool_args, sig, max_runs):
    timeout = runner.args.timeout

    def still_fails(lines):
        status, err = runner.run(runner.args.flash_opt, tool_args,
                                 "".join(lines), timeout)
        return signature(status, err) == sig

    budget = [max_runs]
    lines = ddmin_lines(lines_of(text), still_fails, budget)
    # Then within lines: drop comma-separated pieces and trailing text.
    return "".join(lines)


def has_flash(text):
    return "flash." in text or "#flash" in text


def classify_upstream(runner, text, tool_args, sig):
    """'upstream: ...' when the stock mlir-opt fails the same way on the
    upstream-only part, else None."""
    mlir_opt = runner.args.mlir_opt
    if not mlir_opt:
        return None
    # Where does it fail? The last IR dump before the crash names the pass.
    status, err = runner.run(runner.args.flash_opt, tool_args + [
        "--mlir-print-ir-before-all", "--mlir-print-ir-module-scope",
        "--mlir-disable-threading"], text)
    dumps = list(re.finditer(
        r"^// -----// IR Dump Before (\S+) \(([^)]*)\)(?: \('([\w.]+)' "
        r"operation(?:: @[\w$.-]+)?\))? //----- //$", err, re.M))
    if not dumps:
        if not has_flash(text):
            status, err2 = runner.run(mlir_opt, [], text)
            return "upstream (parser)" if signature(status, err2) else None
        # Flash text in the input: the stock mlir-opt with the plugin must
        # fail too, and in MLIR's or LLVM's own code.
        plugin = runner.args.plugin
        if not plugin or not os.path.exists(plugin):
            return None
        status, err2 = runner.run(mlir_opt, [f"--load-dialect-plugin={plugin}"],
                                  text)
        lib = where(err2)
        if signature(status, err2) and lib.startswith(("libMLIR", "libLLVM")):
            return f"upstream (parser, with the plugin; in {lib})"
        return None
    last = dumps[-1]
    pass_arg, anchor = last.group(2), last.group(3) or "builtin.module"
    if "flash" in pass_arg:
        return None
    body = err[last.end():]
    body = body.split("Stack dump", 1)[0]
    body = re.split(r"^(?:LLVM ERROR|PLEASE submit|terminate called)", body,
                    flags=re.M)[0]
    if has_flash(body):
        return None
    pipeline_text = dump_pipeline(runner, tool_args)
    opts = re.search(re.escape(pass_arg) + r"(\{[^{}]*\})", pipeline_text)
    pass_text = pass_arg + (opts.group(1) if opts else "")
    nested = pass_text if anchor == "builtin.module" else \
        f"{anchor}({pass_text})"
    status, err2 = runner.run(mlir_opt,
                              [f"--pass-pipeline=builtin.module({nested})"],
                              body)
    if signature(status, err2):
        return f"upstream ({pass_arg})"
    return None


def dump_pipeline(runner, tool_args):
    status, err = runner.run(runner.args.flash_opt,
                             tool_args + ["--dump-pass-pipeline"], "")
    return err


# --- Driver ------------------------------------------------------------------


def draw_input(seed, i, corpus):
    """Input i of a run: (pipeline index, text, mutations)."""
    rng = random.Random(f"{seed}:{i}")
    unit = generate_unit(rng) if rng.random() < 0.5 else rng.choice(corpus)
    text, applied = mutate(rng, unit, corpus)
    return text, applied


def draw_pipeline(rng):
    names = list(range(len(PIPELINES)))
    return rng.choices(names, [p[1] for p in PIPELINES])[0]


def find_failures(runner, tool_args, texts):
    """Indices (into texts) of the inputs that fail alone, with their
    signature and stderr, by splitting failing batches in halves."""
    joined = "\n// -----\n".join(texts)
    timeout = runner.args.timeout * (1 + len(texts) // 4)
    status, err = runner.run(runner.args.flash_opt,
                             ["--split-input-file"] + tool_args, joined,
                             timeout)
    sig = signature(status, err)
    if sig is None:
        return []
    if len(texts) == 1:
        return [(0, sig, err)]
    half = len(texts) // 2
    found = find_failures(runner, tool_args, texts[:half])
    found += [(i + half, s, e) for i, s, e in
              find_failures(runner, tool_args, texts[half:])]
    return found


def save_reproducer(out_dir, text, tool_args, sig, err, origin, upstream):
    digest = hashlib.sha1(sig.encode()).hexdigest()[:10]
    path = os.path.join(out_dir, f"{'upstream' if upstream else 'crash'}-"
                        f"{digest}.mlir")
    if os.path.exists(path):
        return path, False
    header = [f"// flash-opt %s {' '.join(tool_args)}",
              f"// signature: {sig}", f"// found: {origin}"]
    if upstream:
        header.append(f"// {upstream}: the stock mlir-opt fails too")
    header += ["// stderr:"] + ["//   " + l for l in
                                err.strip().splitlines()[:25]]
    with open(path, "w") as f:
        f.write("\n".join(header) + "\n" + text)
    return path, True


def fuzz(args):
    corpus = load_corpus(args.root)
    runner = Runner(args)
    seed = args.seed
    print(f"fuzz: seed {seed}, {args.inputs} inputs, {len(corpus)} seed units"
          f" (replay: --inputs {args.inputs} --seed {seed} --batch-scale "
          f"{args.batch_scale})")
    sys.stdout.flush()
    start = time.monotonic()
    failures, upstream, signatures = [], [], {}
    per_pipeline = {}
    done = 0
    batch_no = 0
    while done < args.inputs:
        if args.max_seconds and time.monotonic() - start > args.max_seconds:
            print(f"fuzz: stopped after {args.max_seconds} s")
            break
        rng = random.Random(f"{seed}:batch:{batch_no}")
        p = draw_pipeline(rng)
        name, _, per_batch, make_args = PIPELINES[p]
        tool_args = make_args(rng)
        count = min(max(1, int(per_batch * args.batch_scale)),
                    args.inputs - done)
        inputs = [draw_input(seed, done + j, corpus) for j in range(count)]
        texts = [t for t, _ in inputs]
        for j, sig, err in find_failures(runner, tool_args, texts):
            origin = (f"seed {seed} input {done + j} ({name}; "
                      f"{'+'.join(inputs[j][1])})")
            if sig in signatures:
                signatures[sig][1] += 1
                continue
            small = minimize(runner, texts[j], tool_args, sig,
                             args.reduce_runs)
            status, err = runner.run(args.flash_opt, tool_args, small)
            up = classify_upstream(runner, small, tool_args, sig)
            path, _ = save_reproducer(args.out_dir, small, tool_args, sig,
                                      err, origin, up)
            signatures[sig] = [path, 1]
            (upstream if up else failures).append(sig)
            print(f"fuzz: {'UPSTREAM' if up else 'FAILURE'} {sig} "
                  f"[{where(err)}] {origin}\n  reproducer: {path}"
                  + (f"\n  {up}: stock mlir-opt fails too" if up else ""))
            sys.stdout.flush()
        per_pipeline[name] = per_pipeline.get(name, 0) + count
        done += count
        batch_no += 1
        if args.progress and batch_no % args.progress == 0:
            print(f"fuzz: {done} inputs, {runner.runs} runs, "
                  f"{time.monotonic() - start:.0f} s, {len(failures)} "
                  f"failures, {len(upstream)} upstream")
            sys.stdout.flush()
    elapsed = time.monotonic() - start
    mix = ", ".join(f"{k} {v}" for k, v in sorted(per_pipeline.items()))
    print(f"fuzz: pipelines: {mix}")
    summary = (f"{done} inputs, {runner.runs} flash-opt/mlir-opt runs, seed "
               f"{seed}, {elapsed:.1f} s; {len(failures)} failure signatures,"
               f" {len(upstream)} upstream")
    for sig, (path, hits) in sorted(signatures.items()):
        print(f"fuzz:   {hits:5d} x {sig}  ({path})")
    print(f"fuzz: {'FAIL' if failures else 'PASS'} ({summary})")
    return not failures


def parse_args():
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--seed", type=int,
                        default=(int(os.environ["FLASH_TEST_SEED"])
                                 if os.environ.get("FLASH_TEST_SEED")
                                 else random.SystemRandom().randrange(2 ** 32)))
    parser.add_argument("--root", default=root,
                        help="the repository (its test/ and examples/ seed)")
    parser.add_argument("--flash-opt",
                        default=os.path.join(root, "build/bin/flash-opt"))
    parser.add_argument("--mlir-opt", default="/usr/lib/llvm-22/bin/mlir-opt",
                        help="the stock mlir-opt ('' to skip the upstream "
                        "check)")
    parser.add_argument("--plugin",
                        default=os.path.join(root, "build/lib/FlashPlugin.so"),
                        help="FlashPlugin.so, for the stock mlir-opt")
    parser.add_argument("--llvm-bin", default="/usr/lib/llvm-22/bin",
                        help="put on PATH (llvm-symbolizer for stack dumps)")
    parser.add_argument("--out-dir", default="fuzz-out",
                        help="where reproducers are written")
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="seconds one input may take")
    parser.add_argument("--memory-mb", type=int, default=4096,
                        help="address-space limit of each run")
    parser.add_argument("--batch-scale", type=float, default=1.0,
                        help="scales the inputs per flash-opt process")
    parser.add_argument("--reduce-runs", type=int, default=300,
                        help="runs that reducing one failure may take")
    parser.add_argument("--max-seconds", type=float, default=0,
                        help="stop after this long (0: no limit)")
    parser.add_argument("--progress", type=int, default=0, metavar="BATCHES",
                        help="print a progress line every BATCHES batches")
    return parser.parse_args()


def main():
    args = parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        args.work_dir = tmp
        ok = fuzz(args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
