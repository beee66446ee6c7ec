"""Which kernel serves a call: head dim, element type, mask kind, window.

Pure Python (no torch, no GPU) so that the rules are testable anywhere.
"""

import math
from collections import namedtuple

from ._errors import UnsupportedError

# The head dims kernels are generated for (docs/kernel-abi.md); other
# multiples of 8 up to 256 are zero-padded to the next one.
KERNEL_HEAD_DIMS = (32, 64, 96, 128, 192, 256)
MAX_HEAD_DIM = KERNEL_HEAD_DIMS[-1]
# The largest head dim with backward kernels (verifyKernelSpec in
# lib/Conversion/FlashToGPU/KernelPlan.cpp).
MAX_BACKWARD_HEAD_DIM = 128

# The chips libFlashCAPI generates for, newest first: the names of the C++
# chip table (lib/Conversion/FlashToGPU/Chip.cpp), of which this is the one
# Python copy (test/tools/flash-aot/chips.test checks that they agree).
COMPILE_CHIPS = ("sm_90a", "sm_90", "sm_89", "sm_86", "sm_80")

# A kernel and its scalar arguments: `head_dim` is the kernel's (padded) head
# dim, `window` the (left, right) pair passed to the kernel, `layout` the
# block-sparse layout (_layout.Layout) of a block-sparse kernel, else None;
# `dropout` the (p, seed, offset) of a call with dropout, else None.
KernelCall = namedtuple("KernelCall",
                        "head_dim dtype mask window scale layout dropout",
                        defaults=(None, None))


def kernel_head_dim(d):
    """The head dim of the kernel that serves head dim `d`."""
    if not isinstance(d, int) or d <= 0 or d % 8 or d > MAX_HEAD_DIM:
        raise UnsupportedError(
            f"head dim {d} is not supported: the kernels take multiples of 8 "
            f"up to {MAX_HEAD_DIM}")
    # A plain loop, simple for torch.compile to trace (check_arguments runs
    # inside compiled functions).
    for k in KERNEL_HEAD_DIMS:
        if k >= d:
            return k


def default_scale(d):
    return 1.0 / math.sqrt(d)


def check_scale(scale, d):
    """The softmax scale: 1/sqrt(d) by default; it must be finite and > 0."""
    if scale is None:
        return default_scale(d)
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise UnsupportedError(
            f"scale must be a positive number, got {scale!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise UnsupportedError(
            f"scale must be finite and > 0 (the kernels take scale * log2(e) "
            f"as a positive factor), got {scale!r}")
    return value


def _window_side(value, side):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnsupportedError(
            f"window: {side} must be an int >= 0 or None (unbounded), "
            f"got {value!r}")
    return value


def select_mask(is_causal, window, lq, lk):
    """The kernel mask kind and (left, right) window arguments.

    is_causal is SDPA's top-left causal mask. window = (left, right) keeps
    key j for query i iff i + lk - lq - left <= j <= i + lk - lq + right (the
    bottom-right frame); None on a side means unbounded, so (None, 0) is the
    bottom-right causal mask.
    """
    if window is None:
        return ("causal" if is_causal else "none"), (0, 0)
    if is_causal:
        raise UnsupportedError(
            "is_causal=True and window together are not supported: is_causal "
            "is top-left causal, window is in the bottom-right frame; use "
            "window=(left, 0) for a causal sliding window")
    try:
        left, right = window
    except (TypeError, ValueError):
        raise UnsupportedError(
            f"window must be a (left, right) pair, got {window!r}") from None
    left = _window_side(left, "left")
    right = _window_side(right, "right")
    if left is None and right is None:
        return "none", (0, 0)
    if left is None and right == 0:
        return "causal_bottom_right", (0, 0)
    # Any window wider than both lengths sees every key: None and sides
    # beyond that (up to any int, past what the kernels' int64 takes) are
    # passed as lq + lk.
    unbounded = lq + lk
    return "sliding_window", (unbounded if left is None else
                              min(left, unbounded),
                              unbounded if right is None else
                              min(right, unbounded))


def compile_chip(device_chip, chip_runs):
    """The chip to generate a kernel for on a device of `device_chip` (e.g.
    900): the newest that the device runs as PTX. `chip_runs(device, code,
    is_ptx)` is the runtime's compatibility rule."""
    for name in COMPILE_CHIPS:
        if chip_runs(device_chip, chip_code(name), 1):
            return name
    raise UnsupportedError(
        f"the GPU is {chip_label(device_chip)}: the kernels need "
        f"{COMPILE_CHIPS[-1]} (Ampere) or newer")


def chip_code(name):
    """'sm_90a' -> 901, the runtime's encoding."""
    digits = name[3:].rstrip("a")
    return int(digits) * 10 + (1 if name.endswith("a") else 0)


def chip_label(code):
    return f"sm_{code // 10}{'a' if code % 10 else ''}"
