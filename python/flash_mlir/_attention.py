"""flash_mlir.attention: torch's scaled_dot_product_attention on flash-mlir's
GPU kernels."""

import ctypes
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from . import _dropout, _kernels, _layout, _mask_check, _runtime, _spec
from ._errors import UnsupportedError

_DTYPES = {torch.float16: ("f16", _runtime.DTYPE_F16),
           torch.bfloat16: ("bf16", _runtime.DTYPE_BF16)}

SPARSE_DROPOUT_MESSAGE = (
    "dropout_p with block_mask: the block-sparse kernels have no dropout "
    "yet; pass dropout_p=0.0")

SPARSE_BACKWARD_MESSAGE = (
    "flash_mlir.attention has no backward pass for block_mask calls yet: "
    "the block-sparse backward kernels are not generated. Run it under "
    "torch.no_grad(), or use FlexAttention where gradients are needed")


def attention(q, k, v, *, attn_mask=None, dropout_p=0.0, is_causal=False,
              scale=None, enable_gqa=False, window=None, block_mask=None,
              return_lse=False):
    """Attention over [B, H, L, D] CUDA tensors, like
    torch.nn.functional.scaled_dot_product_attention, differentiable in q,
    k and v through the out and the lse (not yet for block_mask calls, nor
    head dims above 128). On a PyTorch with
    torch.library.custom_op, torch.compile sees it as the custom op
    flash_mlir::attention_fwd (backward: flash_mlir::attention_bwd), which
    it keeps in its graphs; eager calls and block_mask calls run an
    autograd.Function (see _CUSTOM_OP).

    q is [B, Hq, Lq, D], k and v [B, Hkv, Lk, D], all float16 or all
    bfloat16, any strides with a contiguous last dimension. Hq == Hkv unless
    enable_gqa, which takes Hq a multiple of Hkv. is_causal is top-left
    causal (SDPA's); window=(left, right) keeps key j for query i iff
    i + Lk - Lq - left <= j <= i + Lk - Lq + right (None on a side:
    unbounded). scale defaults to 1/sqrt(D) and must be > 0. Returns the
    output [B, Hq, Lq, D] in q's layout, and with return_lse also the
    natural-log log-sum-exp [B, Hq, Lq] float32 (-inf, with output 0, for a
    row that sees no key).

    dropout_p drops each attention probability with that probability and
    scales the kept ones by 1 / (1 - dropout_p), as SDPA does (the
    probability is rounded to a multiple of 1/65536; the lse is the
    softmax's before dropout). The mask comes from a counter-based Philox
    stream (flash_mlir.dropout_mask computes it) keyed by the seed of the
    device's default CUDA generator at the offset it has reached, which
    the call advances: torch.manual_seed makes runs reproducible, and the
    backward regenerates the forward's mask. Not with block_mask.

    block_mask (flash_mlir.create_block_mask's, or FlexAttention's
    BlockMask) runs the block-sparse kernel: only the mask's live tiles are
    computed; inside its partial tiles the structural mask of is_causal or
    window applies, inside its full tiles none (FlexAttention's convention).
    The mask function the block mask was built from (mask_fn or mask_mod;
    none: every key visible) is not compiled into the kernels: it is
    evaluated once per mask and call (on the call's device; the outcome is
    cached on the mask until its tensors change) on the in-bounds elements
    of the partial tiles, for every batch and query head, and where it
    disagrees with the structural mask the call raises UnsupportedError
    naming the first such element. So a block mask is accepted when the
    structural mask cuts its partial tiles exactly as its mask function does
    (e.g. causal documents starting at multiples of the block size, with
    is_causal=True).

    Raises UnsupportedError (a ValueError) for anything the kernels do not
    compute, naming the argument; it never falls back to another
    implementation.
    """
    p = _dropout.check_p(dropout_p)
    if p and block_mask is not None:
        raise UnsupportedError(SPARSE_DROPOUT_MESSAGE)
    call = check_arguments(q, k, v, attn_mask=attn_mask, is_causal=is_causal,
                           scale=scale, enable_gqa=enable_gqa, window=window,
                           block_mask=block_mask)
    if p:
        call = call._replace(dropout=(p,) +
                             _dropout.draw_seed_offset(q.device))
    if _CUSTOM_OP and call.layout is None and _trace_custom_op():
        p, seed, offset = call.dropout or (0.0, 0, 0)
        out, lse = torch.ops.flash_mlir.attention_fwd(
            q, k, v, call.mask, call.window[0], call.window[1], call.scale,
            p, seed, offset)
    else:
        out, lse = _FlashAttention.apply(q, k, v, call)
    return (out, lse) if return_lse else out


def attention_backward(dout, q, k, v, out, lse, *, dlse=None,
                       is_causal=False, scale=None, enable_gqa=False,
                       window=None):
    """The gradients (dq, dk, dv) of attention(q, k, v, ...) that returned
    `out` and `lse` (return_lse=True), for the gradient `dout` of out and
    `dlse` of lse (None: zero), without autograd: for callers that merge
    partial results (split-KV, ring attention) and differentiate through
    the merge themselves. The keyword arguments must be the forward's
    (block_mask calls have no backward yet). dout has out's shape and dtype;
    dlse, when given, lse's shape (float32)."""
    call = check_arguments(q, k, v, is_causal=is_causal, scale=scale,
                           enable_gqa=enable_gqa, window=window)
    if dout.shape != out.shape or dout.dtype != out.dtype:
        raise UnsupportedError(
            f"dout: shape {tuple(dout.shape)} {dout.dtype}, expected out's "
            f"{tuple(out.shape)} {out.dtype}")
    if out.shape != q.shape or lse.shape != q.shape[:3]:
        raise UnsupportedError(
            f"out and lse: shapes {tuple(out.shape)} and {tuple(lse.shape)}, "
            f"expected q's {tuple(q.shape)} and {tuple(q.shape[:3])}")
    if dlse is not None and (dlse.shape != lse.shape or
                             dlse.dtype != torch.float32):
        raise UnsupportedError(
            f"dlse: shape {tuple(dlse.shape)} {dlse.dtype}, expected lse's "
            f"{tuple(lse.shape)} torch.float32")
    with torch.no_grad():
        return backward(dout, dlse, q, k, v, out, lse, call)


def check_arguments(q, k, v, *, attn_mask=None, is_causal=False, scale=None,
                    enable_gqa=False, window=None, block_mask=None):
    """Checks a call and returns its _spec.KernelCall. Everything but the
    device is checked first, so that the errors are the same on any
    machine."""
    if attn_mask is not None:
        raise UnsupportedError(
            "attn_mask: the GPU kernels take no mask tensor yet; supported "
            "are is_causal=True (top-left causal) and window=(left, right) "
            "(sliding window, bottom-right frame; (None, 0) is bottom-right "
            "causal)")
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise UnsupportedError(
                f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 4:
            raise UnsupportedError(
                f"{name} must be 4-D [B, H, L, D], got shape "
                f"{tuple(t.shape)}")
    dtypes = {q.dtype, k.dtype, v.dtype}
    if len(dtypes) != 1:
        raise UnsupportedError(
            f"q, k and v must have one dtype (float16 or bfloat16), got "
            f"{q.dtype}, {k.dtype} and {v.dtype}")
    if q.dtype not in _DTYPES:
        raise UnsupportedError(
            f"dtype {q.dtype} is not supported: the kernels take "
            f"torch.float16 or torch.bfloat16")
    dtype = _DTYPES[q.dtype][0]
    (b, hq, lq, d), (bk, hkv, lk, dk) = q.shape, k.shape
    if tuple(v.shape[:3]) != (bk, hkv, lk):
        raise UnsupportedError(
            f"k and v must agree in [B, H, L], got {tuple(k.shape)} and "
            f"{tuple(v.shape)}")
    if bk != b:
        raise UnsupportedError(
            f"q and k must have the same batch size, got {b} and {bk}")
    if dk != d or v.shape[3] != d:
        raise UnsupportedError(
            f"q, k and v must have one head dim, got {d}, {dk} and "
            f"{v.shape[3]} (a separate value head dim is not supported)")
    head_dim = _spec.kernel_head_dim(d)
    if enable_gqa:
        if hkv == 0 or hq % hkv:
            raise UnsupportedError(
                f"enable_gqa: the query heads ({hq}) must be a multiple of "
                f"the key/value heads ({hkv})")
    elif hq != hkv:
        raise UnsupportedError(
            f"q has {hq} heads and k, v have {hkv}: pass enable_gqa=True for "
            f"grouped-query attention")
    scale = _spec.check_scale(scale, d)
    mask, win = _spec.select_mask(is_causal, window, lq, lk)
    layout = None
    if block_mask is not None:
        layout = _layout.check_block_mask(block_mask, b, hq, lq, lk)
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.shape[3] > 1 and t.stride(3) != 1:
            raise UnsupportedError(
                f"{name}: the last dimension must be contiguous (stride 1), "
                f"got strides {tuple(t.stride())}")
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.device.type != "cuda":
            raise UnsupportedError(
                f"{name} is on {t.device}: flash_mlir runs on CUDA tensors "
                f"only")
    if not (q.device == k.device == v.device):
        raise UnsupportedError(
            f"q, k and v must be on one device, got {q.device}, {k.device} "
            f"and {v.device}")
    if layout is not None:
        # Last: it evaluates the mask function on the call's device.
        _mask_check.check_mask_function(block_mask, layout, mask, win, b, hq,
                                        lq, lk, q.device)
    return _spec.KernelCall(head_dim, dtype, mask, win, scale, layout)


class _FlashAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, call):
        out, lse = forward(q, k, v, call)
        # A gradient that does not flow (most often the lse's) comes as None.
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.call = call
        return out, lse

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out, grad_lse):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = backward(grad_out, grad_lse, q, k, v, out, lse, ctx.call)
        return dq, dk, dv, None


# With torch.library.custom_op (PyTorch 2.4 and later) attention is a custom
# op: torch.compile keeps it as one node of its graphs (no graph break),
# traced through the fake implementations, with the registered backward.
# Older PyTorch keeps _FlashAttention, and so do block_mask calls: an op
# takes only tensors and scalars, not a BlockMask, whose mask function
# check_arguments evaluates on the data and caches on the mask (which
# torch.compile could not trace anyway); and they have no backward yet.
_CUSTOM_OP = hasattr(torch.library, "custom_op")


def _trace_custom_op():
    """Whether a call takes the custom op: only under torch.compile. Eager
    calls take the autograd.Function, because the op's dispatch cost about
    0.5 ms of host time per forward and backward (measured on the H200 at
    GPT-2 small's shape, docs/performance.md), which short sequences'
    kernels do not hide."""
    return torch.compiler.is_compiling()

if _CUSTOM_OP:
    Tensor = torch.Tensor

    def _kernel_call(q, mask, window_left, window_right, scale, dropout_p,
                     seed, offset):
        """check_arguments' KernelCall again, from the op's arguments."""
        return _spec.KernelCall(_spec.kernel_head_dim(q.shape[3]),
                                _DTYPES[q.dtype][0], mask,
                                (window_left, window_right), scale,
                                dropout=((dropout_p, seed, offset)
                                         if dropout_p else None))

    @torch.library.custom_op("flash_mlir::attention_fwd", mutates_args=())
    def _attention_fwd(q: Tensor, k: Tensor, v: Tensor, mask: str,
                       window_left: int, window_right: int, scale: float,
                       dropout_p: float, seed: int,
                       offset: int) -> Tuple[Tensor, Tensor]:
        """(out, lse) of arguments that check_arguments accepted; dropout
        with the seed and offset where dropout_p is not 0."""
        return forward(q, k, v, _kernel_call(q, mask, window_left,
                                             window_right, scale, dropout_p,
                                             seed, offset))

    @_attention_fwd.register_fake
    def _attention_fwd_fake(q, k, v, mask, window_left, window_right, scale,
                            dropout_p, seed, offset):
        return empty_like_layout(q), empty_lse(q)

    @torch.library.custom_op("flash_mlir::attention_bwd", mutates_args=())
    def _attention_bwd(dout: Optional[Tensor], dlse: Optional[Tensor],
                       q: Tensor, k: Tensor, v: Tensor, out: Tensor,
                       lse: Tensor, mask: str, window_left: int,
                       window_right: int, scale: float, dropout_p: float,
                       seed: int,
                       offset: int) -> Tuple[Tensor, Tensor, Tensor]:
        """(dq, dk, dv) for the gradients dout and dlse (None: zero) of the
        attention_fwd call that gave (out, lse)."""
        return backward(dout, dlse, q, k, v, out, lse,
                        _kernel_call(q, mask, window_left, window_right,
                                     scale, dropout_p, seed, offset))

    @_attention_bwd.register_fake
    def _attention_bwd_fake(dout, dlse, q, k, v, out, lse, mask, window_left,
                            window_right, scale, dropout_p, seed, offset):
        return tuple(empty_like_layout(t) for t in (q, k, v))

    def _setup_context(ctx, inputs, output):
        q, k, v, *scalars = inputs
        # As _FlashAttention: a gradient that does not flow comes as None.
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(q, k, v, *output)
        ctx.scalars = scalars

    def _backward(ctx, grad_out, grad_lse):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = torch.ops.flash_mlir.attention_bwd(
            grad_out, grad_lse, q, k, v, out, lse, *ctx.scalars)
        return (dq, dk, dv) + (None,) * len(ctx.scalars)

    _attention_fwd.register_autograd(_backward, setup_context=_setup_context)


def empty_like_layout(t, shape=None, dtype=None):
    """An uninitialized tensor of `shape` (t's by default) whose memory
    order follows t's strides, e.g. [B, L, H, D] storage for a transposed
    [B, H, L, D] view; the last dimension stays innermost."""
    shape = list(t.shape if shape is None else shape)
    order = sorted(range(3), key=lambda i: -t.stride(i)) + [3]
    storage = torch.empty([shape[i] for i in order], device=t.device,
                          dtype=dtype or t.dtype)
    inverse = [order.index(i) for i in range(4)]
    return storage.permute(inverse)


def empty_lse(q):
    """The uninitialized [B, Hq, Lq] float32 log-sum-exp of q."""
    return torch.empty(q.shape[:3], device=q.device, dtype=torch.float32)


def _abi_ready(t):
    """t, or a fresh copy where its pointer or strides break the kernel ABI
    (16-byte aligned base, strides multiples of 8 elements)."""
    aligned = t.data_ptr() % 16 == 0 or t.numel() == 0
    strides_ok = all(t.stride(i) % 8 == 0 or t.shape[i] == 1
                     for i in range(3))
    if aligned and strides_ok:
        return t
    return torch.empty(t.shape, device=t.device, dtype=t.dtype).copy_(t)


def _descriptor(t, code):
    return _runtime.make_tensor(t.data_ptr() or None, code, t.shape,
                                t.stride())


def forward(q, k, v, call):
    """Runs the kernel of `call` (checked arguments); returns (out, lse)."""
    b, hq, lq, d = q.shape
    out = empty_like_layout(q)
    lse = empty_lse(q)
    if k.shape[2] == 0:
        # No key at all: every row is empty.
        out.zero_()
        lse.fill_(float("-inf"))
        return out, lse
    pad = call.head_dim - d
    if pad:
        q, k, v = (F.pad(t, (0, pad)) for t in (q, k, v))
        o = empty_like_layout(q)
    else:
        o = out
    q, k, v = (_abi_ready(t) for t in (q, k, v))
    sparse = call.layout is not None
    kernel = _kernels.get_kernel(q.device.index, call.head_dim, call.dtype,
                                 call.mask, _features(call))
    if sparse:
        _layout.check_kernel_fits(kernel.info, call.layout)
        call = call._replace(layout=_layout.on_device(call.layout, q.device))
    launch(kernel, q, k, v, o, lse, call,
           torch.cuda.current_stream(q.device).cuda_stream)
    if pad:
        out.copy_(o[..., :d])
    return out, lse


def backward(dout, dlse, q, k, v, out, lse, call):
    """The gradients (dq, dk, dv) of the call that gave (out, lse), for the
    gradients dout of out and dlse of lse (either may be None: zero)."""
    if call.layout is not None:
        raise UnsupportedError(SPARSE_BACKWARD_MESSAGE)
    d = q.shape[3]
    if d > _spec.MAX_BACKWARD_HEAD_DIM:
        raise UnsupportedError(
            f"head dim {d}: flash_mlir.attention has no backward pass above "
            f"head dim {_spec.MAX_BACKWARD_HEAD_DIM} yet (no backward kernels "
            f"are generated for it); run it under torch.no_grad(), or use "
            f"torch.nn.functional.scaled_dot_product_attention where "
            f"gradients are needed")
    if dout is None:
        dout = torch.zeros_like(out)
    dq, dk, dv = (empty_like_layout(t) for t in (q, k, v))
    if k.shape[2] == 0 or q.shape[2] == 0 or q.numel() == 0:
        # No key or no query: nothing flows.
        for t in (dq, dk, dv):
            t.zero_()
        return dq, dk, dv
    pad = call.head_dim - d
    if pad:
        q, k, v, out, dout = (F.pad(t, (0, pad))
                              for t in (q, k, v, out, dout))
    q, k, v, out, dout = (_abi_ready(t) for t in (q, k, v, out, dout))
    if dout.stride(3) != 1:
        dout = dout.contiguous()
    if dlse is not None:
        dlse = dlse.contiguous()
    pq, pk, pv = ((empty_like_layout(t) for t in (q, k, v)) if pad
                  else (dq, dk, dv))
    kernel = _kernels.get_kernel(q.device.index, call.head_dim, call.dtype,
                                 call.mask, _features(call), kind="backward")
    rt = kernel.rt
    size = ctypes.c_size_t()
    rt.check(rt.backward_workspace_size(ctypes.byref(kernel.info),
                                        q.shape[0], q.shape[1], q.shape[2],
                                        ctypes.byref(size)),
             "sizing the backward's workspace")
    workspace = torch.empty(size.value, device=q.device, dtype=torch.uint8)
    code = _DTYPES[q.dtype][1]
    f32 = _runtime.DTYPE_F32
    descriptors = {name: _descriptor(t, code) for name, t in
                   (("q", q), ("k", k), ("v", v), ("o", out), ("dout", dout),
                    ("dq", pq), ("dk", pk), ("dv", pv))}
    descriptors["lse"] = _descriptor(lse, f32)
    if dlse is not None:
        descriptors["dlse"] = _descriptor(dlse, f32)
    # Deterministic mode where PyTorch asks for deterministic algorithms
    # (torch.use_deterministic_algorithms): dQ bitwise the same run to run.
    tensors = _runtime.BackwardTensors(
        **{name: ctypes.pointer(t) for name, t in descriptors.items()},
        deterministic=int(torch.are_deterministic_algorithms_enabled()))
    if call.dropout:
        tensors.dropout = ctypes.pointer(_runtime.Dropout(*call.dropout))
    stream = torch.cuda.current_stream(q.device).cuda_stream
    rt.check(rt.attention_backward(
        kernel.context, kernel.handle, ctypes.byref(tensors), call.scale,
        call.window[0], call.window[1],
        ctypes.c_void_p(workspace.data_ptr() or None), size.value,
        ctypes.c_void_p(stream or None)),
        f"launching {kernel.info.name.decode()}")
    if pad:
        for full, part in ((dq, pq), (dk, pk), (dv, pv)):
            full.copy_(part[..., :d])
    return dq, dk, dv


def _features(call):
    """The kernel features that `call` needs."""
    if call.layout is not None:
        return ("block_sparse",)
    return ("dropout",) if call.dropout else ()


def launch(kernel, q, k, v, o, lse, call, stream):
    """Launches `kernel` on tensors that meet the ABI (and, for a
    block-sparse kernel, the layout of `call` on their device), on `stream`
    (a CUstream as an int; 0 or None for the default stream)."""
    code = _DTYPES[q.dtype][1]
    tensors = [_descriptor(t, code) for t in (q, k, v, o)]
    tensors.append(_descriptor(lse, _runtime.DTYPE_F32))
    args = [kernel.context, kernel.handle,
            *(ctypes.byref(t) for t in tensors), call.scale, call.window[0],
            call.window[1]]
    rt = kernel.rt
    what = f"launching {kernel.info.name.decode()}"
    if call.dropout:
        rt.check(rt.attention_forward_dropout(
            *args, ctypes.byref(_runtime.Dropout(*call.dropout)),
            ctypes.c_void_p(stream or None)), what)
        return
    if call.layout is None:
        rt.check(rt.attention_forward(*args, ctypes.c_void_p(stream or None)),
                 what)
        return
    layout, keepalive = _layout.descriptors(call.layout)
    rt.check(rt.attention_forward_sparse(*args, ctypes.byref(layout),
                                         ctypes.c_void_p(stream or None)),
             what)
    del keepalive
