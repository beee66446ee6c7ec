#!/usr/bin/env python3
"""Execution check of the flash ops on the CPU, no GPU needed.

Each case draws fresh pseudo-random inputs and becomes one function that runs
flash.attention (and, for gradient cases, flash.attention_grad) on them and
prints the results. A module of such functions runs through mlir-runner
after each lowering:

  tiled:       flash-opt --flash-to-cpu (flash-tile-attention inside)
  decomposed:  flash-opt --flash-decompose-attention --flash-to-cpu
  retiled:     flash-opt --flash-tile-attention=<tiles2> --flash-to-cpu
               (generated cases only: a second pair of tile sizes)

Both are compared with an independent float64 numpy implementation of the
dialect's semantics, and with each other. Each comparison prints its
relative error, max|x - ref| / max|ref| over the finite entries (with
-inf entries required to match exactly and NaN never passing), and a case
fails when an error is above its stated bound (BOUNDS).

Modes:
  --case NAME       one named case (see CASES).
  --random N        N generated cases (see draw_spec): every dtype, shape, mask
                    kind (windows up to the int64 limit), element masks with
                    broadcasting and fully hidden rows, block-sparse layouts
                    with hostile CSR lists, masked_score fills. Cases run
                    CASES_PER_MODULE to a module. One line per case gives its
                    spec and seed (and, when it fails, a command that replays
                    it alone); `random: PASS` or `random: FAIL` ends the run.
                    Some cases see q, k and v with dynamic extents. The first
                    --minimize failing cases are reduced (minimize_case) to a
                    reproducer in --repro-dir.
                    --seed S replays a whole run. scripts/fuzz-cpu.sh runs
                    long batches.
  --spec JSON       one case from the spec that --random printed; --seed is
                    then that case's own seed.

Seeds are printed; --seed or FLASH_TEST_SEED replays them.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

# Relative-error bounds against the float64 reference, per element type.
# Outputs are rounded to the element type once, so the bound is a small
# multiple of its unit roundoff; gradients allow for the cancellation in
# dP - D: a gradient's error is measured against max|ref|, but at least
# GRAD_TERMS_FLOOR times the largest sum of the absolute terms it adds up
# (see reference_backward). Where every row sees one key, dS = P (dP - D)
# is 0 exactly and the reference gradients are rounding noise.
GRAD_TERMS_FLOOR = 1e-2
BOUNDS = {
    "f32": {"out": 1e-4, "lse": 1e-5, "grad": 1e-3},
    "f16": {"out": 4e-3, "lse": 1e-5, "grad": 2e-2},
    "bf16": {"out": 3e-2, "lse": 1e-5, "grad": 6e-2},
}


def case(name, **kw):
    """A spec. Beyond the shapes and attributes of the op: mask_shape is the
    mask operand's (broadcast) shape, mask_dtype an additive mask's element
    type (default: dtype), hidden_mask_rows the fraction of mask rows hiding
    every key; sparse = (the layout's block_q, block_kv, density) with, for
    named cases, full_tiles and empty_query_tile, and for generated ones csr
    (see draw_layout); masked_score is the forward op's finite fill (no grad
    then); tiles are the CPU pipeline's (tile-q, tile-kv)."""
    spec = dict(name=name, dtype="f32", B=1, Hq=1, Hkv=1, Lq=16, Lk=16, D=16,
                Dv=None, kind="none", window=None, softcap=None, scale=None,
                mask=None, mask_shape=None, sparse=None, full_tiles=False,
                empty_query_tile=False, tiles=(16, 16), grad=False,
                logit_gain=3.0, mask_dtype=None, hidden_mask_rows=0.0,
                csr=None, masked_score=None, dynamic=None, tiles2=None)
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
INT64_MAX = 2 ** 63 - 1
INT32_MIN, INT32_MAX = -2 ** 31, 2 ** 31 - 1


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


def ceil_div(a, b):
    return -(-a // b)


# --- Generated cases ---------------------------------------------------------
#
# draw_spec draws one valid spec: everything the verifier accepts within small
# extents, weighted towards the edges (length 1, Lq > Lk, odd tails, windows
# of 0 and near INT64_MAX, hostile CSR lists). The inputs are drawn later from
# the case's own seed, so that a spec and a seed replay one case.

# CPU tile sizes (--flash-to-cpu=tile-q=.. tile-kv=..), shared by the cases
# of one module, and drawn independently of the layouts' block sizes.
CPU_TILE_SIZES = [1, 3, 4, 5, 8, 13, 16, 32, 64]
LAYOUT_BLOCK_SIZES = [1, 2, 3, 4, 5, 7, 8, 12, 16, 32]
# Cases per module: one flash-opt and one mlir-runner run per lowering each.
CASES_PER_MODULE = 6


def f32_value(x):
    """x rounded to f32, as an attribute holds it."""
    return float(np.float32(x))


def draw_length(rng):
    """A sequence length in [1, 70], often 1 or short."""
    r = rng.random()
    if r < 0.1:
        return 1
    if r < 0.3:
        return int(rng.integers(2, 9))
    return int(rng.integers(1, 71))


def draw_heads(rng):
    """(Hq, Hkv): multi-head, grouped-query or multi-query."""
    hkv = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    group = int(rng.choice([1, 2, 3, 4], p=[0.4, 0.25, 0.15, 0.2]))
    return hkv * group, hkv


def draw_head_dim(rng):
    """A head dimension in [4, 64], half of the time a multiple of 8."""
    if rng.random() < 0.5:
        return int(rng.choice([8, 16, 32, 64]))
    return int(rng.integers(4, 65))


def draw_window_side(rng, Lq, Lk):
    """One side of a sliding window: 0, small, about the lengths, large, or
    near INT64_MAX (where i + Lk - Lq -/+ side overflows int64)."""
    kind = rng.choice(["zero", "small", "lengths", "large", "limit"],
                      p=[0.1, 0.15, 0.25, 0.1, 0.4])
    if kind == "zero":
        return 0
    if kind == "small":
        return int(rng.integers(1, 8))
    if kind == "lengths":
        return int(rng.integers(0, Lq + Lk + 3))
    if kind == "large":
        return Lq + Lk + int(rng.integers(0, 1000))
    near_limit = [INT64_MAX, INT64_MAX - 1, 2 ** 62, INT64_MAX - Lk,
                  INT64_MAX - Lq, INT64_MAX - Lq - Lk,
                  INT64_MAX - int(rng.integers(0, 300))]
    return int(near_limit[rng.integers(len(near_limit))])


def draw_structural_mask(rng, Lq, Lk):
    """mask_kind and, for sliding_window, its window."""
    kind = str(rng.choice(["none", "causal", "causal_bottom_right",
                           "sliding_window"], p=[0.25, 0.2, 0.2, 0.35]))
    if kind != "sliding_window":
        return dict(kind=kind, window=None)
    return dict(kind=kind, window=(draw_window_side(rng, Lq, Lk),
                                   draw_window_side(rng, Lq, Lk)))


def draw_score_options(rng):
    """softcap, explicit scale (possibly negative) and the logits' spread."""
    softcap = f32_value(rng.uniform(1.0, 10.0)) if rng.random() < 0.25 else None
    scale = None
    if rng.random() < 0.25:
        sign = -1.0 if rng.random() < 0.15 else 1.0
        scale = f32_value(sign * rng.uniform(0.05, 0.5))
    gain = float(rng.uniform(4.0, 8.0) if softcap else rng.uniform(1.0, 5.0))
    return dict(softcap=softcap, scale=scale, logit_gain=round(gain, 3))


def draw_masked_score(rng):
    """None (hidden scores are -inf), or a finite fill, down to the lowest
    f32 (torch.finfo(float32).min, whose multiple by log2(e) overflows)."""
    if rng.random() >= 0.15:
        return None
    fills = [-1e4, -30.0, -5.0, 0.0, 2.5, float(np.finfo(np.float32).min)]
    return f32_value(fills[rng.integers(len(fills))])


def draw_element_mask(rng, dims, dtype):
    """No mask, or an additive or boolean one broadcast along a random subset
    of [B, Hq, Lq, Lk], with some rows hiding every key."""
    kind = rng.choice(["none", "additive", "boolean"], p=[0.35, 0.35, 0.3])
    if kind == "none":
        return dict(mask=None, mask_shape=None)
    shape = tuple(int(d) if rng.random() < 0.5 else 1 for d in dims)
    mask_dtype = None
    if kind == "additive" and rng.random() < 0.3:
        mask_dtype = str(rng.choice(["f32", "f16", "bf16"]))
    return dict(mask=str(kind), mask_shape=shape, mask_dtype=mask_dtype,
                hidden_mask_rows=float(rng.choice([0.0, 0.1, 0.3])))


def draw_layout(rng, B, Hq, Lq, Lk):
    """No layout, or the parameters of a block-sparse one: block sizes,
    density, the lists' batch and head extents (1 or full), their width N and
    whether they are hostile (see draw_csr_row) and have full lists."""
    if rng.random() < 0.6:
        return dict(sparse=None, csr=None)
    bq = int(rng.choice(LAYOUT_BLOCK_SIZES))
    bkv = int(rng.choice(LAYOUT_BLOCK_SIZES))
    nkv = ceil_div(Lk, bkv)
    hostile = bool(rng.random() < 0.7)
    width = int(rng.integers(1, 2 * nkv + 3)) if hostile else nkv
    csr = dict(extent=(B if rng.random() < 0.6 else 1,
                       Hq if rng.random() < 0.6 else 1),
               width=width, hostile=hostile, full=bool(rng.random() < 0.5))
    density = round(float(rng.uniform(0.2, 0.9)), 3)
    return dict(sparse=(bq, bkv, density), csr=csr)


def draw_spec(rng, name, tiles):
    """One random valid spec (see case() for the fields)."""
    B = int(rng.integers(1, 3))
    Hq, Hkv = draw_heads(rng)
    Lq, Lk = draw_length(rng), draw_length(rng)
    D = draw_head_dim(rng)
    Dv = D if rng.random() < 0.6 else draw_head_dim(rng)
    dtype = str(rng.choice(["f32", "f16", "bf16"], p=[0.45, 0.3, 0.25]))
    spec = case(name, dtype=dtype, B=B, Hq=Hq, Hkv=Hkv, Lq=Lq, Lk=Lk, D=D,
                Dv=Dv, tiles=tuple(tiles), grad=bool(rng.random() < 0.8))
    spec.update(draw_structural_mask(rng, Lq, Lk))
    spec.update(draw_score_options(rng))
    spec.update(draw_element_mask(rng, (B, Hq, Lq, Lk), dtype))
    spec.update(draw_layout(rng, B, Hq, Lq, Lk))
    spec["masked_score"] = draw_masked_score(rng)
    if spec["masked_score"] is not None:
        spec["grad"] = False  # flash.attention_grad has no masked_score
    return spec


def draw_cpu_tiles(rng):
    return (int(rng.choice(CPU_TILE_SIZES)), int(rng.choice(CPU_TILE_SIZES)))


def draw_dynamic(rng, spec):
    """None, or per operand (q, k, v) which of its extents the op sees as
    dynamic ("0101": heads and head_dim), through a tensor.cast. A dynamic
    head dim needs an explicit scale: the default one, then."""
    if rng.random() >= 0.3:
        return None
    p = float(rng.choice([0.3, 0.6, 1.0]))
    dyn = {n: "".join("1" if rng.random() < p else "0" for _ in range(4))
           for n in ("q", "k", "v")}
    if spec["scale"] is None and "1" in dyn["q"][3] + dyn["k"][3]:
        spec["scale"] = f32_value(1.0 / np.sqrt(spec["D"]))
    return dyn


def random_cases(count, seed, extended=True):
    """The specs and input seeds of a --random run: case i depends on (seed,
    i) only, and shares its CPU tiles with the other cases of its module."""
    cases = []
    for i in range(count):
        module = i // CASES_PER_MODULE
        tiles = draw_cpu_tiles(np.random.default_rng([seed, module, 0]))
        spec = draw_spec(np.random.default_rng([seed, i, 1]), f"random{i}",
                         tiles)
        if extended:
            # A second tiling (flash-tile-attention before flash-to-cpu) at
            # other tile sizes, and dynamic extents.
            spec["tiles2"] = draw_cpu_tiles(
                np.random.default_rng([seed, module, 3]))
            spec["dynamic"] = draw_dynamic(
                np.random.default_rng([seed, i, 3]), spec)
        case_seed = int(np.random.SeedSequence([seed, i, 2])
                        .generate_state(1)[0])
        cases.append((spec, case_seed))
    return cases


SPEC_TUPLES = ("window", "tiles", "mask_shape", "sparse", "tiles2")


# Fields that a printed spec always shows; the others only when they differ
# from their default in case().
SPEC_SHOWN = ("name", "dtype", "B", "Hq", "Hkv", "Lq", "Lk", "D", "Dv",
              "kind", "tiles", "grad")


def spec_to_json(spec):
    """The spec as compact JSON."""
    defaults = case(spec["name"])
    fields = {k: v for k, v in spec.items()
              if k in SPEC_SHOWN or json.dumps(v) != json.dumps(defaults[k])}
    return json.dumps(fields, separators=(",", ":"))


def spec_from_json(text):
    fields = json.loads(text)
    for key in SPEC_TUPLES:
        if fields.get(key) is not None:
            fields[key] = tuple(fields[key])
    return case(**fields)


# --- Inputs -----------------------------------------------------------------


def csr_lists(selected, nkv):
    """Clean CSR lists of a boolean tile selection, as
    flash.block_sparse_layout builds them (increasing, padded with 0)."""
    counts = selected.sum(-1).astype(np.int32)
    idx = np.zeros(selected.shape[:-1] + (max(1, nkv),), np.int32)
    for pos in np.ndindex(*selected.shape[:-1]):
        cols = np.nonzero(selected[pos])[0]
        idx[pos][: len(cols)] = cols
    return counts, idx


def make_layout(spec, rng):
    """The layout of a named case: clean CSR lists of random tile states."""
    bq, bkv, density = spec["sparse"]
    nq = ceil_div(spec["Lq"], bq)
    nkv = ceil_div(spec["Lk"], bkv)
    live = rng.random((spec["B"], spec["Hq"], nq, nkv)) < density
    if spec["empty_query_tile"]:
        live[:, :, nq // 2, :] = False
    full = np.zeros_like(live)
    if spec["full_tiles"]:
        full = live & (rng.random(live.shape) < 0.5)
    layout = dict(zip(("counts", "indices"), csr_lists(live & ~full, nkv)))
    if spec["full_tiles"]:
        layout.update(zip(("full_counts", "full_indices"),
                          csr_lists(full, nkv)))
    return layout


def out_of_range_tiles(nkv):
    return [-1, -2, -nkv, nkv, nkv + 1, 2 * nkv + 5, INT32_MAX, INT32_MIN]


def draw_csr_entries(rng, nkv, density, hostile):
    """The entries one CSR row means to list: its live key tiles, in
    increasing order, or, when hostile, shuffled, with repeats and
    out-of-range indices mixed in."""
    live = [t for t in range(nkv) if rng.random() < density]
    if not hostile:
        return live
    entries = [int(t) for t in rng.permutation(live)]
    for _ in range(rng.integers(0, 3)):
        if entries:
            entries.insert(int(rng.integers(len(entries) + 1)),
                           entries[rng.integers(len(entries))])
    bad = out_of_range_tiles(nkv)
    for _ in range(rng.integers(0, 3)):
        entries.insert(int(rng.integers(len(entries) + 1)),
                       bad[rng.integers(len(bad))])
    return entries


def draw_csr_count(rng, listed, width, hostile):
    """The row's count: the number of entries, or, when hostile, sometimes
    0, negative, or larger than the width N."""
    r = rng.random() if hostile else 1.0
    if r < 0.08:
        return width + int(rng.integers(1, 4))
    if r < 0.12:
        return INT32_MAX
    if r < 0.18:
        return int(rng.choice([-1, -3, INT32_MIN]))
    if r < 0.22:
        return 0
    return listed


def draw_csr_row(rng, nkv, width, density, hostile):
    """(count, indices[width]) of one query tile. Hostile padding holds valid
    tile indices too: entries past the count must not be read."""
    entries = draw_csr_entries(rng, nkv, density, hostile)[:width]
    if hostile:
        pad = rng.integers(-2, nkv + 2, width - len(entries))
    else:
        pad = np.zeros(width - len(entries), np.int64)
    row = np.concatenate([np.asarray(entries, np.int64), pad])
    return draw_csr_count(rng, len(entries), width, hostile), row


def draw_csr_lists(rng, shape, nkv, width, density, hostile):
    counts = np.zeros(shape, np.int64)
    indices = np.zeros(shape + (width,), np.int64)
    for pos in np.ndindex(*shape):
        counts[pos], indices[pos] = draw_csr_row(rng, nkv, width, density,
                                                 hostile)
    return counts.astype(np.int32), indices.astype(np.int32)


def draw_layout_lists(spec, rng):
    """The CSR lists of a generated case's layout. The full lists are drawn
    independently of the partial ones, so tiles land in both."""
    bq, bkv, density = spec["sparse"]
    csr = spec["csr"]
    shape = tuple(csr["extent"]) + (ceil_div(spec["Lq"], bq),)
    nkv = ceil_div(spec["Lk"], bkv)
    lists = (nkv, csr["width"], density, csr["hostile"])
    layout = dict(zip(("counts", "indices"),
                      draw_csr_lists(rng, shape, *lists)))
    if csr["full"]:
        full = (nkv, csr["width"], density / 2, csr["hostile"])
        layout.update(zip(("full_counts", "full_indices"),
                          draw_csr_lists(rng, shape, *full)))
    return layout


def hide_mask_rows(spec, mask, rng):
    """Makes a fraction of the mask's rows hide every key."""
    rows = rng.random(mask.shape[:-1]) < spec["hidden_mask_rows"]
    mask[rows] = False if mask.dtype == bool else -np.inf
    return mask


def make_mask(spec, rng):
    shape = spec["mask_shape"]
    if spec["mask"] == "additive":
        m = rng.standard_normal(shape) * 2.0
        m[rng.random(shape) < 0.2] = -np.inf
    else:
        m = rng.random(shape) < 0.7
    if spec["hidden_mask_rows"]:
        m = hide_mask_rows(spec, m, rng)
    if spec["mask"] == "additive":
        m = round_to(m, spec["mask_dtype"] or spec["dtype"])
    return m


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
    if spec["mask"]:
        x["mask"] = make_mask(spec, rng)
    if spec["csr"]:
        x["layout"] = draw_layout_lists(spec, rng)
    elif spec["sparse"]:
        x["layout"] = make_layout(spec, rng)
    return x


# --- Reference --------------------------------------------------------------


def listed_tiles(counts, indices, nkv):
    """[.., NQ, NKV]: the key tiles that CSR lists name. A row reads its first
    min(count, N) entries (none for a negative count) and ignores indices
    outside [0, NKV); a repeated index names its tile once."""
    listed = np.zeros(indices.shape[:-1] + (nkv,), bool)
    width = indices.shape[-1]
    for pos in np.ndindex(*counts.shape):
        read = indices[pos][: min(max(int(counts[pos]), 0), width)]
        listed[pos][read[(read >= 0) & (read < nkv)]] = True
    return listed


def tile_states(layout, nkv):
    """[.., NQ, NKV] tile states: 0 dead, 1 partial, 2 full (a tile in both
    lists is full)."""
    states = listed_tiles(layout["counts"], layout["indices"], nkv)
    states = states.astype(np.int8)
    if "full_counts" in layout:
        full = listed_tiles(layout["full_counts"], layout["full_indices"], nkv)
        states[full] = 2
    return states


def structural_visible(spec):
    """[Lq, Lk] visibility under mask_kind. Distances from the diagonal are
    small, and the window sides are compared with them as exact integers:
    key j is visible to query i iff -right <= i + Lk - Lq - j <= left."""
    Lq, Lk = spec["Lq"], spec["Lk"]
    i = np.arange(Lq, dtype=np.int64)[:, None]
    j = np.arange(Lk, dtype=np.int64)[None, :]
    behind = i + (Lk - Lq) - j
    kind = spec["kind"]
    if kind == "causal":
        return j <= i
    if kind == "causal_bottom_right":
        return behind >= 0
    if kind == "sliding_window":
        left, right = (int(w) for w in spec["window"])
        return (behind <= left) & (-behind <= right)
    return np.ones((Lq, Lk), bool)


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
    vis = np.ones(s.shape, bool)
    if spec["mask"] == "additive":
        masked = masked + x["mask"]
    elif spec["mask"] == "boolean":
        vis = vis & x["mask"]
    vis = np.broadcast_to(vis & structural_visible(spec), s.shape)
    if spec["masked_score"] is not None:
        # Keys hidden by the element masks score the fill; an additive -inf
        # stays -inf.
        masked = np.where(vis, masked, spec["masked_score"])
        vis = np.ones(s.shape, bool)
    if "layout" in x:
        bq, bkv = spec["sparse"][:2]
        states = tile_states(x["layout"], ceil_div(spec["Lk"], bkv))
        i = np.arange(spec["Lq"])[:, None]
        j = np.arange(spec["Lk"])[None, :]
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


def gradient_products(spec, q, k, p, ds, dout):
    """dQ = dS K, dK = dSᵀ Q and dV = Pᵀ dO, with dK and dV summed over the
    query heads that share a key/value head."""
    B, Hkv = spec["B"], spec["Hkv"]
    G = spec["Hq"] // Hkv
    dq = ds @ np.repeat(k, G, axis=1)
    dk = np.swapaxes(ds, -1, -2) @ q
    dv = np.swapaxes(p, -1, -2) @ dout
    dk = dk.reshape(B, Hkv, G, *dk.shape[2:]).sum(2)
    dv = dv.reshape(B, Hkv, G, *dv.shape[2:]).sum(2)
    return dq, dk, dv


def reference_backward(spec, x, out, lse, dout):
    """(dQ, dK, dV) and the same sums taken over the terms' absolute values,
    which bound the size of their rounding errors."""
    s, base, scale = reference_scores(spec, x)
    G = spec["Hq"] // spec["Hkv"]
    v = np.repeat(x["v"], G, axis=1)
    lsafe = np.where(np.isneginf(lse), 0.0, lse)[..., None]
    p = np.exp(s - lsafe)
    d = (dout * out).sum(-1, keepdims=True)
    dp = dout @ np.swapaxes(v, -1, -2)
    dcap = 1.0
    if spec["softcap"]:
        dcap = 1.0 - (base / spec["softcap"]) ** 2
    ds = p * (dp - d) * dcap * scale
    ds_terms = p * (np.abs(dp) + np.abs(d)) * np.abs(dcap) * abs(scale)
    grads = gradient_products(spec, x["q"], x["k"], p, ds, dout)
    terms = gradient_products(spec, np.abs(x["q"]), np.abs(x["k"]), p,
                              ds_terms, np.abs(dout))
    return grads, terms


# --- MLIR -------------------------------------------------------------------


def attention_attributes(spec, forward):
    attrs = [f"mask_kind = #flash.mask<{spec['kind']}>"]
    if spec["window"] is not None:
        attrs.append("window = array<i64: %d, %d>" % tuple(spec["window"]))
    if spec["softcap"]:
        attrs.append(f"softcap = {spec['softcap']:.9e} : f32")
    if spec["scale"] is not None:
        attrs.append(f"scale = {spec['scale']:.9e} : f32")
    if spec["sparse"]:
        attrs.append("block_sizes = array<i64: %d, %d>"
                     % tuple(spec["sparse"][:2]))
    if forward and spec["masked_score"] is not None:
        attrs.append(f"masked_score = {spec['masked_score']:.9e} : f32")
    return "{" + ", ".join(attrs) + "}"


def build_case_function(spec, x, grad_inputs, func_name):
    """A function that runs the case's ops on constants and prints each
    result (as f32); returns its text and the printed results' names."""
    dt = spec["dtype"]
    lines = [f"  func.func @{func_name}() {{"]
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
    if "mask" in x:
        mask_elt = ("i1" if spec["mask"] == "boolean"
                    else spec["mask_dtype"] or dt)
        const("mask", x["mask"], x["mask"].shape, mask_elt)
        extra += f" mask(%mask : {types['mask']})"
    if "layout" in x:
        layout = x["layout"]
        const("cnt", layout["counts"], layout["counts"].shape, "i32")
        const("idx", layout["indices"], layout["indices"].shape, "i32")
        extra += (f" block_sparse(%cnt, %idx : {types['cnt']}, "
                  f"{types['idx']})")
        if "full_counts" in layout:
            const("fcnt", layout["full_counts"], layout["full_counts"].shape,
                  "i32")
            const("fidx", layout["full_indices"],
                  layout["full_indices"].shape, "i32")
            extra += (f" full(%fcnt, %fidx : {types['fcnt']}, "
                      f"{types['fidx']})")
    B, Hq, Lq, Dv = spec["B"], spec["Hq"], spec["Lq"], spec["Dv"]
    dyn = spec.get("dynamic") or {}

    def dims(shape, flags):
        return tuple("?" if f == "1" else d for d, f in zip(shape, flags))

    qf, vf = dyn.get("q", "0000"), dyn.get("v", "0000")
    out_t = tensor_type(dims((B, Hq, Lq, Dv), qf[:3] + vf[3]), dt)
    lse_t = tensor_type(dims((B, Hq, Lq), qf[:3]), "f32")
    for name in ("q", "k", "v"):
        if "1" in dyn.get(name, ""):
            static = types[name]
            types[name] = tensor_type(dims(x[name].shape, dyn[name]), dt)
            lines.append(f"    %{name}_dyn = tensor.cast %{name} : {static} "
                         f"to {types[name]}")
    use = {n: f"%{n}_dyn" if "1" in dyn.get(n, "") else f"%{n}"
           for n in ("q", "k", "v")}
    operands = f"{use['q']}, {use['k']}, {use['v']}"
    qkv_t = f"{types['q']}, {types['k']}, {types['v']}"
    lines.append(f"    %out, %lse = flash.attention {operands}{extra} "
                 f"{attention_attributes(spec, True)} : {qkv_t} -> "
                 f"{out_t}, {lse_t}")
    printed = [("out", out_t), ("lse", lse_t)]
    if grad_inputs is not None:
        out_ref, lse_ref, dout = grad_inputs
        const("o_in", out_ref, out_ref.shape, dt)
        const("lse_in", lse_ref, lse_ref.shape, "f32")
        const("dout", dout, dout.shape, dt)
        grad_in = []
        for name, t in (("o_in", out_t), ("dout", out_t), ("lse_in", lse_t)):
            if types[name] != t:
                lines.append(f"    %{name}_dyn = tensor.cast %{name} : "
                             f"{types[name]} to {t}")
                name += "_dyn"
            grad_in.append(f"%{name}")
        lines.append(
            f"    %dq, %dk, %dv = flash.attention_grad {operands}, "
            f"{', '.join(grad_in)}{extra} {attention_attributes(spec, False)}"
            f" : {qkv_t}, {out_t}, {out_t}, {lse_t} -> {qkv_t}")
        printed += [("dq", types["q"]), ("dk", types["k"]), ("dv", types["v"])]
    for name, t in printed:
        lines += print_lines(name, t)
    lines += ["    return", "  }"]
    return "\n".join(lines), [n for n, _ in printed]


def print_lines(name, t):
    """Prints %name (of type t) as f32 with printMemrefF32."""
    value, lines = f"%{name}", []
    if not t.endswith("xf32>"):
        f32_t = t.rsplit("x", 1)[0] + "xf32>"
        lines.append(f"    %{name}_f32 = arith.extf %{name} : {t} to {f32_t}")
        value, t = f"%{name}_f32", f32_t
    unranked = "tensor<*xf32>"
    lines.append(f"    %{name}_u = tensor.cast {value} : {t} to {unranked}")
    lines.append(f"    call @printMemrefF32(%{name}_u) : ({unranked}) -> ()")
    return lines


def build_module(cases):
    """A module whose @main calls each case's function in turn. The printer
    is declared read-only: otherwise bufferization must copy a tensor printed
    twice (dK and dV fold to one zero tensor when every tile is dead), and
    it cannot copy an unranked one."""
    lines = ["module {",
             "  func.func private @printMemrefF32("
             "tensor<*xf32> {bufferization.access = \"read\"})"]
    lines += [c["function"] for c in cases]
    lines.append("  func.func @main() {")
    lines += [f"    call @{c['func_name']}() : () -> ()" for c in cases]
    lines += ["    return", "  }", "}"]
    return "\n".join(lines) + "\n"


# --- Running ----------------------------------------------------------------

# retiled (cases with tiles2): flash-tile-attention at tiles2, then
# flash-to-cpu (whose own tiling finds no flash op left).
LOWERINGS = {"tiled": [], "decomposed": ["--flash-decompose-attention"],
             "retiled": "retile"}
NUMBER = re.compile(r"-?inf|nan|-?\d+(?:\.\d*)?(?:e[+-]?\d+)?")


class PipelineError(Exception):
    """flash-opt or mlir-runner failed, or printed the wrong results."""


def run_tool(cmd, stdin_text=None):
    try:
        done = subprocess.run(cmd, input=stdin_text, capture_output=True,
                              text=True)
    except OSError as error:  # e.g. flash-opt missing while it is relinked
        raise PipelineError(f"{os.path.basename(cmd[0])}: {error}") from error
    if done.returncode != 0:
        how = (f"killed by signal {-done.returncode}" if done.returncode < 0
               else f"exit {done.returncode}")
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise PipelineError(f"{os.path.basename(cmd[0])} {how}: {tail}")
    return done.stdout


def parse_printed(stdout):
    """The arrays printMemrefF32 printed, in order, flattened."""
    arrays = []
    for chunk in stdout.split("Unranked Memref")[1:]:
        data = chunk.split("data =", 1)[1]
        arrays.append(np.array([float(t) for t in NUMBER.findall(data)]))
    return arrays


def run_pipeline(args, module_path, pre_passes, tiles):
    if pre_passes == "retile":
        pre_passes = [f"--flash-tile-attention=tile-q={tiles[0]} "
                      f"tile-kv={tiles[1]}"]
    opt = [args.flash_opt, module_path] + pre_passes + [
        f"--flash-to-cpu=tile-q={tiles[0]} tile-kv={tiles[1]}"]
    lowered = run_tool(opt)
    libs = ",".join(os.path.join(args.mlir_lib_dir, lib) for lib in
                    ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so"))
    printed = run_tool([args.mlir_runner, "-e", "main",
                        "-entry-point-result=void", f"-shared-libs={libs}"],
                       lowered)
    return parse_printed(printed)


def run_lowerings(args, module_path, tiles, tiles2=None):
    """{lowering: printed arrays, or the PipelineError}, the lowerings run
    at once; retiled only when tiles2 is given."""
    names = [n for n in LOWERINGS if n != "retiled" or tiles2]

    def run(lowering):
        try:
            return run_pipeline(args, module_path, LOWERINGS[lowering],
                                tiles2 if lowering == "retiled" else tiles)
        except PipelineError as error:
            return error

    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        return dict(zip(names, pool.map(run, names)))


def split_results(cases, printed):
    """Splits one lowering's printed arrays among the cases."""
    expected = sum(len(c["names"]) for c in cases)
    if isinstance(printed, PipelineError):
        return [printed] * len(cases)
    if len(printed) != expected:
        error = PipelineError(f"printed {len(printed)} results, expected "
                              f"{expected}")
        return [error] * len(cases)
    per_case, at = [], 0
    for c in cases:
        per_case.append(printed[at:at + len(c["names"])])
        at += len(c["names"])
    return per_case


def run_cases(args, cases, module_dir):
    """Runs cases of equal CPU tiles as one module per lowering; returns,
    per case, {lowering: arrays or PipelineError}. When a module fails as a
    whole, each of its cases runs alone to find the one that fails."""
    name = "-".join(c["func_name"] for c in cases[:1]) + f"-x{len(cases)}"
    path = os.path.join(module_dir, name + ".mlir")
    with open(path, "w") as f:
        f.write(build_module(cases))
    results = run_lowerings(args, path, cases[0]["spec"]["tiles"],
                            cases[0]["spec"].get("tiles2"))
    per_lowering = {k: split_results(cases, v) for k, v in results.items()}
    failed = any(isinstance(r[0], PipelineError)
                 for r in per_lowering.values())
    if failed and len(cases) > 1:
        return [run_cases(args, [c], module_dir)[0] for c in cases]
    return [{k: v[i] for k, v in per_lowering.items()}
            for i in range(len(cases))]


# --- Checking ---------------------------------------------------------------


def prepare_case(spec, seed, func_name):
    """Draws a case's inputs from its seed and computes the reference."""
    rng = np.random.default_rng(seed)
    x = make_inputs(spec, rng)
    out_ref, lse_ref = reference_forward(spec, x)
    dt = spec["dtype"]
    refs, floors = [out_ref, lse_ref], [0.0, 0.0]
    grad_inputs = None
    if spec["grad"]:
        out_in = round_to(out_ref, dt)
        lse_in = lse_ref.astype(np.float32).astype(np.float64)
        dout = round_to(rng.standard_normal(out_ref.shape), dt)
        grad_inputs = (out_in, lse_in, dout)
        grads, terms = reference_backward(spec, x, out_in, lse_in, dout)
        refs += list(grads)
        floors += [GRAD_TERMS_FLOOR * float(np.max(t)) for t in terms]
    function, names = build_case_function(spec, x, grad_inputs, func_name)
    return dict(spec=spec, seed=seed, func_name=func_name, function=function,
                names=names, refs=refs, floors=floors)


def _error_over_finite(got, ref, measure):
    """measure(got, ref) over the finite entries of ref (float64 vectors),
    0 when there are none; inf when a -inf differs, got holds a NaN or the
    shapes differ."""
    ref = np.asarray(ref, np.float64).ravel()
    got = np.asarray(got, np.float64).ravel()
    if got.shape != ref.shape:
        return np.inf
    inf = np.isinf(ref)
    if np.any(np.isnan(got)) or np.any(got[inf] != ref[inf]):
        return np.inf
    fin = ~inf
    return float(measure(got[fin], ref[fin])) if np.any(fin) else 0.0


def rel_error(got, ref, floor=0.0):
    """max|got - ref| over the finite entries of ref, relative to
    max(max|ref|, floor)."""
    return _error_over_finite(
        got, ref, lambda g, r: np.abs(g - r).max() /
        max(np.abs(r).max(), floor, 1e-30))


def row_rel_error(got, ref):
    """max over the finite entries of ref of |got - ref| / max(1, |ref|),
    for the log-sum-exp: a row that hides every key under the lowest finite
    masked_score has an lse near -3.4e38, which must not swamp the others'
    error."""
    return _error_over_finite(
        got, ref,
        lambda g, r: (np.abs(g - r) / np.maximum(np.abs(r), 1.0)).max())


def check_case(case_, results):
    """Compares each lowering's results with the reference and with each
    other; returns (passed, report lines)."""
    bounds = BOUNDS[case_["spec"]["dtype"]]
    lines, ok = [], True
    for lowering, got in results.items():
        if isinstance(got, PipelineError):
            lines.append(f"  {lowering}: {got}  FAIL")
            ok = False
    runs = {k: v for k, v in results.items()
            if not isinstance(v, PipelineError)}
    for n, name in enumerate(case_["names"]):
        ref, floor = case_["refs"][n], case_["floors"][n]
        bound = bounds.get(name, bounds["grad"])
        error = (row_rel_error if name == "lse" else
                 lambda got, ref_: rel_error(got, ref_, floor))
        errs = {f"{k}-vs-ref": error(v[n], ref) for k, v in runs.items()}
        if "tiled" in runs and "decomposed" in runs:
            errs["tiled-vs-decomposed"] = error(runs["tiled"][n],
                                                runs["decomposed"][n])
        if not errs:
            continue
        passed = all(e <= bound for e in errs.values())  # NaN fails
        ok &= passed
        detail = "  ".join(f"{k} {v:.2e}" for k, v in errs.items())
        lines.append(f"  {name:4s} {detail}  bound {bound:.0e}  "
                     f"{'ok' if passed else 'FAIL'}")
    return ok, lines


# --- Modes ------------------------------------------------------------------


def fresh_seed():
    return int(np.random.SeedSequence().entropy % (2 ** 32))


def run_named_case(args, module_dir):
    spec = CASES[args.case]
    seed = args.seed if args.seed is not None else fresh_seed()
    print(f"case {spec['name']}: seed {seed}")
    case_ = prepare_case(spec, seed, "attention_case")
    ok, lines = check_case(case_, run_cases(args, [case_], module_dir)[0])
    print("\n".join(lines))
    print(f"case {spec['name']}: {'PASS' if ok else 'FAIL'}")
    return ok


def replay_command(args, spec, seed):
    """The command line that runs one generated case alone."""
    return " ".join(shlex.quote(a) for a in [
        sys.argv[0], "--spec", spec_to_json(spec), "--seed", str(seed),
        "--flash-opt", args.flash_opt, "--mlir-runner", args.mlir_runner,
        "--mlir-lib-dir", args.mlir_lib_dir])


def report_generated(args, case_, ok, lines):
    spec = case_["spec"]
    print(f"{spec['name']}: {'PASS' if ok else 'FAIL'} seed={case_['seed']} "
          f"spec={spec_to_json(spec)}")
    if not ok:
        print("\n".join(lines))
        print(f"  replay: {replay_command(args, spec, case_['seed'])}")
    sys.stdout.flush()


def module_groups(specs_and_seeds):
    """Consecutive cases with the same CPU tiles, at most CASES_PER_MODULE
    to a group."""
    groups = []
    for spec, seed in specs_and_seeds:
        last = groups[-1] if groups else None
        if (last and len(last) < CASES_PER_MODULE
                and last[-1][0]["tiles"] == spec["tiles"]
                and last[-1][0].get("tiles2") == spec.get("tiles2")):
            last.append((spec, seed))
        else:
            groups.append([(spec, seed)])
    return groups


def run_generated(args, specs_and_seeds, module_dir):
    """Runs generated cases module by module; returns the failing names."""
    failed = []
    for group in module_groups(specs_and_seeds):
        cases = [prepare_case(spec, seed, spec["name"])
                 for spec, seed in group]
        for case_, results in zip(cases, run_cases(args, cases, module_dir)):
            ok, lines = check_case(case_, results)
            report_generated(args, case_, ok, lines)
            if not ok:
                failed.append(case_["spec"]["name"])
    return failed


# --- Minimizing --------------------------------------------------------------


def shrink_candidates(spec):
    """Simpler variants of a valid spec, each still valid: features
    dropped, then extents reduced (the mask's and layout lists' extents
    follow)."""
    out = []

    def variant(**kw):
        new = dict(spec)
        new.update(kw)
        if new != spec:
            out.append(new)

    variant(grad=False)
    variant(dynamic=None)
    variant(tiles2=None)
    variant(mask=None, mask_shape=None, mask_dtype=None, hidden_mask_rows=0.0)
    variant(sparse=None, csr=None, full_tiles=False, empty_query_tile=False)
    variant(softcap=None)
    variant(masked_score=None)
    variant(kind="none", window=None)
    if spec["dtype"] != "f32":
        variant(dtype="f32", mask_dtype=None)

    def resize(**dims):
        new = dict(spec)
        new.update(dims)
        if spec["mask_shape"] is not None:
            axes = (("B", 0), ("Hq", 1), ("Lq", 2), ("Lk", 3))
            new["mask_shape"] = tuple(
                new[k] if spec["mask_shape"][i] == spec[k] else 1
                for k, i in axes)
        if spec["csr"] is not None:
            csr = dict(spec["csr"])
            csr["extent"] = (new["B"] if csr["extent"][0] == spec["B"] else 1,
                             new["Hq"] if csr["extent"][1] == spec["Hq"]
                             else 1)
            new["csr"] = csr
        if new != spec:
            out.append(new)

    group = spec["Hq"] // spec["Hkv"]
    resize(B=1)
    resize(Hq=spec["Hkv"])
    resize(Hkv=1, Hq=group)
    for key in ("Lq", "Lk", "D", "Dv"):
        low = 4 if key in ("D", "Dv") else 1
        for value in sorted({low, spec[key] // 2}):
            if low <= value < spec[key]:
                resize(**{key: value})
    return out


def minimize_case(args, spec, seed, module_dir, budget=40):
    """Greedy reduction of a failing generated case: takes any simpler
    variant that still fails (with the same input seed) until none does or
    the budget of runs is spent; returns the smallest spec."""
    def fails(candidate):
        case_ = prepare_case(candidate, seed, "minimized")
        return not check_case(case_, run_cases(args, [case_],
                                               module_dir)[0])[0]

    changed = True
    while changed and budget > 0:
        changed = False
        for candidate in shrink_candidates(spec):
            budget -= 1
            if fails(candidate):
                spec, changed = candidate, True
                break
            if budget <= 0:
                break
    return spec


def write_reproducer(args, spec, seed, module_dir):
    """The minimized case's module and replay command, in --repro-dir."""
    case_ = prepare_case(spec, seed, "minimized")
    os.makedirs(args.repro_dir, exist_ok=True)
    path = os.path.join(args.repro_dir, f"{spec['name']}-{seed}.mlir")
    with open(path, "w") as f:
        f.write(f"// replay: {replay_command(args, spec, seed)}\n")
        f.write(build_module([case_]))
    return path


def run_random(args, module_dir):
    seed = args.seed if args.seed is not None else fresh_seed()
    print(f"random: seed {seed}, {args.random} cases "
          f"(replay: --random {args.random} --seed {seed})")
    start = time.monotonic()
    cases = random_cases(args.random, seed)
    failed = run_generated(args, cases, module_dir)
    if failed and args.minimize:
        by_name = {spec["name"]: (spec, s) for spec, s in cases}
        for name in failed[:args.minimize]:
            spec, case_seed = by_name[name]
            small = minimize_case(args, spec, case_seed, module_dir)
            print(f"{name}: minimized spec={spec_to_json(small)}")
            print(f"  reproducer: "
                  f"{write_reproducer(args, small, case_seed, module_dir)}")
            print(f"  replay: {replay_command(args, small, case_seed)}")
    elapsed = time.monotonic() - start
    if failed:
        print(f"random: FAIL ({len(failed)} of {args.random} failed: "
              f"{' '.join(failed)}; seed {seed}, {elapsed:.1f} s)")
    else:
        print(f"random: PASS ({args.random} cases, seed {seed}, "
              f"{elapsed:.1f} s)")
    return not failed


def run_spec(args, module_dir):
    spec = spec_from_json(args.spec)
    seed = args.seed if args.seed is not None else fresh_seed()
    return not run_generated(args, [(spec, seed)], module_dir)


def parse_args():
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--case", choices=sorted(CASES))
    mode.add_argument("--random", type=int, metavar="N")
    mode.add_argument("--spec", metavar="JSON")
    parser.add_argument("--seed", type=int,
                        default=(int(os.environ["FLASH_TEST_SEED"])
                                 if os.environ.get("FLASH_TEST_SEED")
                                 else None))
    parser.add_argument("--flash-opt",
                        default=os.path.join(root, "build/bin/flash-opt"))
    parser.add_argument("--mlir-runner",
                        default="/usr/lib/llvm-22/bin/mlir-runner")
    parser.add_argument("--mlir-lib-dir", default="/usr/lib/llvm-22/lib")
    parser.add_argument("--minimize", type=int, default=3, metavar="N",
                        help="reduce the first N failing generated cases "
                        "(0: none)")
    parser.add_argument("--repro-dir", default="attention-repro",
                        help="where minimized reproducers are written")
    parser.add_argument("--keep-modules", metavar="DIR",
                        help="write the generated modules to DIR")
    return parser.parse_args()


def main():
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        module_dir = args.keep_modules or tmp
        os.makedirs(module_dir, exist_ok=True)
        if args.case:
            ok = run_named_case(args, module_dir)
        elif args.random is not None:
            ok = run_random(args, module_dir)
        else:
            ok = run_spec(args, module_dir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
