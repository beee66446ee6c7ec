#!/usr/bin/env python3
"""Execution check of the flash ops on the CPU, no GPU needed.

For one named case (see CASES), draws fresh pseudo-random inputs, writes a
module that runs flash.attention (and, for gradient cases,
flash.attention_grad) on them and prints the results, and runs it twice
through mlir-runner:

  tiled:       flash-opt --flash-to-cpu (flash-tile-attention inside)
  decomposed:  flash-opt --flash-decompose-attention --flash-to-cpu

Both are compared with an independent float64 numpy implementation of the
dialect's semantics, and with each other. Each comparison prints its
relative error, max|x - ref| / max|ref| over the finite entries (with
-inf entries required to match exactly), and the case fails when an error is
above its stated bound. The seed is printed; set FLASH_TEST_SEED to replay.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

# Relative-error bounds against the float64 reference, per element type.
# Outputs are rounded to the element type once, so the bound is a small
# multiple of its unit roundoff; gradients allow for the cancellation in
# dP - D.
BOUNDS = {
    "f32": {"out": 1e-4, "lse": 1e-5, "grad": 1e-3},
    "f16": {"out": 4e-3, "lse": 1e-5, "grad": 2e-2},
    "bf16": {"out": 3e-2, "lse": 1e-5, "grad": 6e-2},
}


def case(name, **kw):
    spec = dict(name=name, dtype="f32", B=1, Hq=1, Hkv=1, Lq=16, Lk=16, D=16,
                Dv=None, kind="none", window=None, softcap=None, scale=None,
                mask=None, mask_shape=None, sparse=None, full_tiles=False,
                empty_query_tile=False, tiles=(16, 16), grad=False,
                logit_gain=3.0)
    spec.update(kw)
    if spec["Dv"] is None:
        spec["Dv"] = spec["D"]
    return spec


CASES = {c["name"]: c for c in [
    case("f32_basic", B=2, Hq=2, Hkv=2, Lq=32, Lk=32, D=16, grad=True),
    case("f32_tails", B=1, Hq=2, Hkv=2, Lq=17, Lk=63, D=16, tiles=(8, 16),
         grad=True),
    case("f32_len1", Lq=1, Lk=130, D=64, tiles=(16, 32), grad=True),
    case("f32_gqa", B=2, Hq=4, Hkv=2, Lq=63, Lk=17, D=16, tiles=(16, 8),
         grad=True),
    case("f32_mqa_d80", Hq=3, Hkv=1, Lq=33, Lk=65, D=80, Dv=48, tiles=(16, 16),
         grad=True),
    case("f32_causal", B=2, Hq=2, Hkv=1, Lq=63, Lk=63, D=16, kind="causal",
         tiles=(16, 16), grad=True),
    case("f32_causal_lq_gt_lk", Lq=40, Lk=17, D=16, kind="causal",
         tiles=(8, 8), grad=True),
    case("f32_causal_br", Hq=2, Hkv=2, Lq=17, Lk=63, D=16,
         kind="causal_bottom_right", tiles=(8, 16), grad=True),
    case("f32_causal_br_empty_rows", Lq=30, Lk=12, D=16,
         kind="causal_bottom_right", tiles=(8, 8), grad=True),
    case("f32_window", Hq=2, Hkv=1, Lq=130, Lk=130, D=16,
         kind="sliding_window", window=(20, 5), tiles=(16, 16), grad=True),
    case("f32_window_causal", Lq=63, Lk=90, D=16, kind="sliding_window",
         window=(9, 0), tiles=(8, 16), grad=True),
    case("f32_additive_mask", B=2, Hq=2, Hkv=2, Lq=17, Lk=33, D=16,
         mask="additive", mask_shape=(2, 1, 1, 33), tiles=(8, 8), grad=True),
    case("f32_boolean_mask", B=2, Hq=2, Hkv=1, Lq=33, Lk=17, D=16,
         mask="boolean", mask_shape=(2, 2, 33, 17), tiles=(8, 8), grad=True),
    case("f32_boolean_mask_causal", Lq=24, Lk=24, D=16, kind="causal",
         mask="boolean", mask_shape=(1, 1, 24, 24), tiles=(8, 8), grad=True),
    case("f32_softcap", Hq=2, Hkv=2, Lq=33, Lk=40, D=16, softcap=2.5,
         logit_gain=4.0, tiles=(16, 8), grad=True),
    case("f32_scale", Lq=20, Lk=20, D=16, scale=0.5, tiles=(8, 8), grad=True),
    case("f32_sparse", B=2, Hq=2, Hkv=2, Lq=64, Lk=64, D=16,
         sparse=(16, 16, 0.5), empty_query_tile=True, tiles=(16, 16),
         grad=True),
    case("f32_sparse_full_causal", Hq=2, Hkv=1, Lq=63, Lk=70, D=16,
         kind="causal", sparse=(16, 16, 0.6), full_tiles=True,
         tiles=(16, 16), grad=True),
    case("f32_sparse_tile_mismatch", Lq=40, Lk=50, D=16, sparse=(8, 16, 0.4),
         empty_query_tile=True, tiles=(16, 8), grad=True),
    case("f16_basic", B=2, Hq=2, Hkv=2, Lq=64, Lk=64, D=64, dtype="f16",
         tiles=(32, 32), grad=True),
    case("f16_gqa_causal", B=2, Hq=4, Hkv=1, Lq=63, Lk=63, D=64, dtype="f16",
         kind="causal", tiles=(16, 16), grad=True),
    case("f16_d80_tails", Hq=2, Hkv=2, Lq=17, Lk=130, D=80, dtype="f16",
         tiles=(16, 32)),
    case("f16_window_mask", Lq=63, Lk=63, D=16, dtype="f16",
         kind="sliding_window", window=(8, 8), mask="additive",
         mask_shape=(1, 1, 63, 63), tiles=(16, 16), grad=True),
    case("f16_sparse", Hq=2, Hkv=2, Lq=64, Lk=96, D=64, dtype="f16",
         sparse=(32, 32, 0.5), empty_query_tile=True, full_tiles=True,
         tiles=(32, 32), grad=True),
    case("bf16_basic", Hq=2, Hkv=1, Lq=33, Lk=33, D=64, dtype="bf16",
         tiles=(16, 16), grad=True),
]}

NP_TYPES = {"f32": np.float32, "f16": np.float16}


def round_to(x, dtype):
    """Rounds float64 data to the element type (bf16 by mantissa rounding)."""
    if dtype == "bf16":
        bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)
    return np.asarray(x).astype(NP_TYPES[dtype]).astype(np.float64)


def dense_literal(x, mlir_type, dtype):
    """An MLIR dense elements literal holding x exactly (hex form)."""
    if dtype == "bf16":
        raw = (np.asarray(x, np.float32).view(np.uint32) >> 16).astype("<u2")
    elif dtype == "i1":
        # Booleans are stored bit-packed, least significant bit first.
        raw = np.packbits(np.asarray(x, bool).ravel(), bitorder="little")
    elif dtype == "i32":
        raw = np.asarray(x, "<i4")
    else:
        raw = np.asarray(x, NP_TYPES[dtype])
    return f'dense<"0x{raw.tobytes().hex().upper()}"> : {mlir_type}'


def tensor_type(shape, elt):
    return "tensor<" + "x".join(str(s) for s in shape) + "x" + elt + ">"


# --- Inputs -----------------------------------------------------------------


def make_layout(spec, rng):
    """A random block-sparse layout: tile states (0 dead, 1 partial, 2 full)
    and their CSR lists."""
    bq, bkv, density = spec["sparse"]
    nq = -(-spec["Lq"] // bq)
    nkv = -(-spec["Lk"] // bkv)
    lb, lh = spec["B"], spec["Hq"]
    live = rng.random((lb, lh, nq, nkv)) < density
    if spec["empty_query_tile"]:
        live[:, :, nq // 2, :] = False
    states = live.astype(np.int8)
    if spec["full_tiles"]:
        full = live & (rng.random(live.shape) < 0.5)
        states[full] = 2

    def csr(selected):
        counts = selected.sum(-1).astype(np.int32)
        width = max(1, nkv)
        idx = np.zeros(selected.shape[:-1] + (width,), np.int32)
        for pos in np.ndindex(*selected.shape[:-1]):
            cols = np.nonzero(selected[pos])[0]
            idx[pos][: len(cols)] = cols
        return counts, idx

    partial = csr(states == 1)
    full = csr(states == 2) if spec["full_tiles"] else None
    return states, partial, full


def make_inputs(spec, rng):
    dt = spec["dtype"]
    B, Hq, Hkv, Lq, Lk, D, Dv = (spec[k] for k in
                                 ("B", "Hq", "Hkv", "Lq", "Lk", "D", "Dv"))
    gain = spec["logit_gain"]
    x = {
        "q": round_to(rng.standard_normal((B, Hq, Lq, D)) * gain ** 0.5, dt),
        "k": round_to(rng.standard_normal((B, Hkv, Lk, D)) * gain ** 0.5, dt),
        "v": round_to(rng.standard_normal((B, Hkv, Lk, Dv)), dt),
    }
    if spec["mask"] == "additive":
        m = rng.standard_normal(spec["mask_shape"]) * 2.0
        m[rng.random(spec["mask_shape"]) < 0.2] = -np.inf
        x["mask"] = round_to(m, dt)
    elif spec["mask"] == "boolean":
        x["mask"] = rng.random(spec["mask_shape"]) < 0.7
    if spec["sparse"]:
        x["layout"] = make_layout(spec, rng)
    return x


# --- Reference --------------------------------------------------------------


def reference_scores(spec, x):
    """Masked scores [B, Hq, Lq, Lk] and the capped unmasked scores."""
    G = spec["Hq"] // spec["Hkv"]
    k = np.repeat(x["k"], G, axis=1)
    D = spec["D"]
    scale = spec["scale"] if spec["scale"] is not None else 1.0 / np.sqrt(D)
    s = np.einsum("bhid,bhjd->bhij", x["q"], k) * scale
    if spec["softcap"]:
        s = spec["softcap"] * np.tanh(s / spec["softcap"])
    base = s
    masked = s.copy()
    Lq, Lk = spec["Lq"], spec["Lk"]
    i = np.arange(Lq)[:, None]
    j = np.arange(Lk)[None, :]
    off = Lk - Lq
    vis = np.ones(s.shape, bool)
    if spec["mask"] == "additive":
        masked = masked + x["mask"]
    elif spec["mask"] == "boolean":
        vis = vis & x["mask"]
    kind = spec["kind"]
    if kind == "causal":
        vis = vis & (j <= i)
    elif kind == "causal_bottom_right":
        vis = vis & (j <= i + off)
    elif kind == "sliding_window":
        left, right = spec["window"]
        vis = vis & (j >= i + off - left) & (j <= i + off + right)
    vis = np.broadcast_to(vis, s.shape)
    if spec["sparse"]:
        states = x["layout"][0]
        bq, bkv, _ = spec["sparse"]
        st = states[:, :, i // bq, j // bkv]
        full = st == 2
        masked = np.where(full, base, masked)
        vis = (st != 0) & (full | vis)
    return np.where(vis, masked, -np.inf), base, scale


def reference_forward(spec, x):
    s, _, _ = reference_scores(spec, x)
    m = s.max(-1, keepdims=True)
    msafe = np.where(np.isneginf(m), 0.0, m)
    e = np.exp(s - msafe)
    l = e.sum(-1, keepdims=True)
    p = np.where(l > 0, e / np.where(l > 0, l, 1.0), 0.0)
    G = spec["Hq"] // spec["Hkv"]
    out = p @ np.repeat(x["v"], G, axis=1)
    with np.errstate(divide="ignore"):
        lse = (msafe + np.log(l))[..., 0]
    return out, lse


def reference_backward(spec, x, out, lse, dout):
    s, base, scale = reference_scores(spec, x)
    G = spec["Hq"] // spec["Hkv"]
    k = np.repeat(x["k"], G, axis=1)
    v = np.repeat(x["v"], G, axis=1)
    lsafe = np.where(np.isneginf(lse), 0.0, lse)[..., None]
    p = np.exp(s - lsafe)
    d = (dout * out).sum(-1, keepdims=True)
    dp = dout @ np.swapaxes(v, -1, -2)
    ds = p * (dp - d)
    if spec["softcap"]:
        ds = ds * (1.0 - (base / spec["softcap"]) ** 2)
    ds = ds * scale
    dq = ds @ k
    dk = np.swapaxes(ds, -1, -2) @ x["q"]
    dv = np.swapaxes(p, -1, -2) @ dout
    B, Hkv = spec["B"], spec["Hkv"]
    dk = dk.reshape(B, Hkv, G, *dk.shape[2:]).sum(2)
    dv = dv.reshape(B, Hkv, G, *dv.shape[2:]).sum(2)
    return dq, dk, dv


# --- MLIR -------------------------------------------------------------------


def build_module(spec, x, grad_inputs):
    dt = spec["dtype"]
    lines = ["module {",
             "  func.func private @printMemrefF32(tensor<*xf32>)",
             "  func.func @main() {"]
    types = {}

    def const(name, value, shape, elt):
        t = tensor_type(shape, elt)
        types[name] = t
        lines.append(f"    %{name} = arith.constant "
                     f"{dense_literal(value, t, elt)}")

    const("q", x["q"], x["q"].shape, dt)
    const("k", x["k"], x["k"].shape, dt)
    const("v", x["v"], x["v"].shape, dt)
    extra = ""
    attrs = [f"mask_kind = #flash.mask<{spec['kind']}>"]
    if spec["window"]:
        attrs.append("window = array<i64: %d, %d>" % spec["window"])
    if spec["softcap"]:
        attrs.append(f"softcap = {spec['softcap']:e} : f32")
    if spec["scale"] is not None:
        attrs.append(f"scale = {spec['scale']:e} : f32")
    if "mask" in x:
        mask_elt = "i1" if spec["mask"] == "boolean" else dt
        const("mask", x["mask"], x["mask"].shape, mask_elt)
        extra += f" mask(%mask : {types['mask']})"
    if "layout" in x:
        _, (cnt, idx), full = x["layout"]
        const("cnt", cnt, cnt.shape, "i32")
        const("idx", idx, idx.shape, "i32")
        extra += (f" block_sparse(%cnt, %idx : {types['cnt']}, "
                  f"{types['idx']})")
        if full:
            const("fcnt", full[0], full[0].shape, "i32")
            const("fidx", full[1], full[1].shape, "i32")
            extra += (f" full(%fcnt, %fidx : {types['fcnt']}, "
                      f"{types['fidx']})")
        attrs.append("block_sizes = array<i64: %d, %d>" % spec["sparse"][:2])
    attr_dict = "{" + ", ".join(attrs) + "}"
    B, Hq, Lq, Dv = spec["B"], spec["Hq"], spec["Lq"], spec["Dv"]
    out_t = tensor_type((B, Hq, Lq, Dv), dt)
    lse_t = tensor_type((B, Hq, Lq), "f32")
    qkv_t = f"{types['q']}, {types['k']}, {types['v']}"
    lines.append(f"    %out, %lse = flash.attention %q, %k, %v{extra} "
                 f"{attr_dict} : {qkv_t} -> {out_t}, {lse_t}")
    printed = [("out", out_t), ("lse", lse_t)]
    if grad_inputs is not None:
        out_ref, lse_ref, dout = grad_inputs
        const("o_in", out_ref, out_ref.shape, dt)
        const("lse_in", lse_ref, lse_ref.shape, "f32")
        const("dout", dout, dout.shape, dt)
        lines.append(
            f"    %dq, %dk, %dv = flash.attention_grad %q, %k, %v, %o_in, "
            f"%dout, %lse_in{extra} {attr_dict} : {qkv_t}, {out_t}, {out_t}, "
            f"{lse_t} -> {qkv_t}")
        printed += [("dq", types["q"]), ("dk", types["k"]), ("dv", types["v"])]
    for name, t in printed:
        value = f"%{name}"
        if not t.endswith("xf32>"):
            f32_t = t.rsplit("x", 1)[0] + "xf32>"
            lines.append(f"    %{name}_f32 = arith.extf %{name} : {t} to {f32_t}")
            value, t = f"%{name}_f32", f32_t
        lines.append(f"    %{name}_u = tensor.cast {value} : {t} to tensor<*xf32>")
        lines.append(f"    call @printMemrefF32(%{name}_u) : (tensor<*xf32>) -> ()")
    lines += ["    return", "  }", "}"]
    return "\n".join(lines) + "\n", [n for n, _ in printed]


NUMBER = re.compile(r"-?inf|nan|-?\d+(?:\.\d*)?(?:e[+-]?\d+)?")


def run_pipeline(args, module_path, pre_passes, tiles):
    opt = [args.flash_opt, module_path] + pre_passes + [
        f"--flash-to-cpu=block-q={tiles[0]} block-kv={tiles[1]}"]
    lowered = subprocess.run(opt, check=True, capture_output=True, text=True)
    libs = ",".join(os.path.join(args.mlir_lib_dir, lib) for lib in
                    ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))
    run = subprocess.run([args.mlir_runner, "-e", "main",
                          "-entry-point-result=void", f"-shared-libs={libs}"],
                         input=lowered.stdout, check=True, capture_output=True,
                         text=True)
    chunks = run.stdout.split("Unranked Memref")[1:]
    arrays = []
    for chunk in chunks:
        data = chunk.split("data =", 1)[1]
        arrays.append(np.array([float(t) for t in NUMBER.findall(data)]))
    return arrays


def rel_error(got, ref):
    ref = np.asarray(ref, np.float64).ravel()
    got = np.asarray(got, np.float64).ravel()
    if got.shape != ref.shape:
        return np.inf
    inf = np.isinf(ref)
    if np.any(np.isnan(got)) or np.any(got[inf] != ref[inf]):
        return np.inf
    fin = ~inf
    if not np.any(fin):
        return 0.0
    denom = max(np.abs(ref[fin]).max(), 1e-30)
    return float(np.abs(got[fin] - ref[fin]).max() / denom)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", required=True, choices=sorted(CASES))
    parser.add_argument("--flash-opt", required=True)
    parser.add_argument("--mlir-runner", required=True)
    parser.add_argument("--mlir-lib-dir", required=True)
    args = parser.parse_args()
    spec = CASES[args.case]
    seed = int(os.environ.get("FLASH_TEST_SEED", np.random.SeedSequence().entropy
                              % (2 ** 32)))
    print(f"case {spec['name']}: seed {seed}")
    rng = np.random.default_rng(seed)
    x = make_inputs(spec, rng)
    out_ref, lse_ref = reference_forward(spec, x)
    dt = spec["dtype"]
    grad_inputs = grads_ref = None
    if spec["grad"]:
        out_in = round_to(out_ref, dt)
        lse_in = lse_ref.astype(np.float32).astype(np.float64)
        dout = round_to(rng.standard_normal(out_ref.shape), dt)
        grad_inputs = (out_in, lse_in, dout)
        grads_ref = reference_backward(spec, x, out_in, lse_in, dout)
    module, names = build_module(spec, x, grad_inputs)
    refs = [out_ref, lse_ref] + (list(grads_ref) if grads_ref else [])

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{spec['name']}.mlir")
        with open(path, "w") as f:
            f.write(module)
        tiled = run_pipeline(args, path, [], spec["tiles"])
        decomposed = run_pipeline(args, path, ["--flash-decompose-attention"],
                                  spec["tiles"])

    bounds = BOUNDS[dt]
    ok = True
    for name, t, d, ref in zip(names, tiled, decomposed, refs):
        bound = bounds.get(name, bounds["grad"])
        errs = {"tiled-vs-ref": rel_error(t, ref),
                "decomposed-vs-ref": rel_error(d, ref),
                "tiled-vs-decomposed": rel_error(t, d)}
        worst = max(errs.values())
        status = "ok" if worst <= bound else "FAIL"
        ok &= worst <= bound
        detail = "  ".join(f"{k} {v:.2e}" for k, v in errs.items())
        print(f"  {name:4s} {detail}  bound {bound:.0e}  {status}")
    print(f"case {spec['name']}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
