"""Argument checking: every unsupported request raises UnsupportedError
naming the argument. CPU tensors suffice, as the device is checked last."""

import math
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

import flash_mlir  # noqa: E402
from flash_mlir import UnsupportedError  # noqa: E402
from flash_mlir._attention import check_arguments  # noqa: E402
from flash_mlir._layout import check_block_mask, check_kernel_fits  # noqa: E402


def qkv(b=2, hq=4, hkv=4, lq=16, lk=16, d=64, dtype=torch.float16):
    return (torch.randn(b, hq, lq, d, dtype=dtype),
            torch.randn(b, hkv, lk, d, dtype=dtype),
            torch.randn(b, hkv, lk, d, dtype=dtype))


def raises(match, *args, **kwargs):
    with pytest.raises(UnsupportedError, match=match):
        flash_mlir.attention(*args, **kwargs)


def test_error_is_a_value_error():
    assert issubclass(UnsupportedError, ValueError)


def test_cpu_tensors():
    raises(r"q is on cpu: flash_mlir runs on CUDA tensors only", *qkv())


def test_attn_mask():
    q, k, v = qkv()
    raises(r"attn_mask: the GPU kernels take no mask tensor",
           q, k, v, attn_mask=torch.ones(16, 16, dtype=torch.bool))


def causal(b, h, i, j):
    return j <= i


def test_block_mask_is_accepted():
    # Everything but the device checks out.
    q, k, v = qkv(lq=300, lk=200)
    mask = flash_mlir.create_block_mask(causal, None, None, 300, 200)
    raises(r"q is on cpu", q, k, v, block_mask=mask, is_causal=True)
    layout = check_block_mask(mask, 2, 4, 300, 200)
    assert (layout.block_q, layout.block_kv) == (128, 128)
    assert layout.kv_num_blocks is mask.kv_num_blocks
    assert layout.full_kv_indices is mask.full_kv_indices


def test_flex_attention_block_mask_is_accepted():
    # FlexAttention's BlockMask: BLOCK_SIZE, and full lists that may be None.
    mask = flash_mlir.create_block_mask(causal, 2, 4, 256, 512,
                                        block=(128, 64))
    flex = SimpleNamespace(kv_num_blocks=mask.kv_num_blocks,
                           kv_indices=mask.kv_indices,
                           full_kv_num_blocks=None, full_kv_indices=None,
                           BLOCK_SIZE=(128, 64), seq_lengths=(256, 512))
    layout = check_block_mask(flex, 2, 4, 256, 512)
    assert layout.full_kv_num_blocks is None
    assert (layout.block_q, layout.block_kv) == (128, 64)


def block_mask_raises(match, mask, lq=256, lk=256, b=2, hq=4):
    with pytest.raises(UnsupportedError, match=match):
        check_block_mask(mask, b, hq, lq, lk)


def test_block_mask_type():
    block_mask_raises(r"block_mask must be a flash_mlir.BlockMask .* got "
                      r"Tensor", torch.ones(2, 2, dtype=torch.bool))


def test_block_mask_lengths():
    mask = flash_mlir.create_block_mask(causal, None, None, 256, 256)
    block_mask_raises(r"block_mask: built for Lq=256, Lk=256; the call has "
                      r"Lq=256, Lk=300", mask, lk=300)


@pytest.mark.parametrize("block", [(32, 128), (128, 48), (96, 64)])
def test_block_mask_block_sizes(block):
    mask = flash_mlir.create_block_mask(causal, None, None, 256, 256,
                                        block=block)
    block_mask_raises(rf"block size \({block[0]}, {block[1]}\) is not "
                      r"supported: the GPU kernels need block_q a multiple "
                      r"of 64 and block_kv a multiple of 32", mask)


def test_block_mask_extents():
    mask = flash_mlir.create_block_mask(causal, 3, None, 256, 256)
    block_mask_raises(r"kv_num_blocks has batch extent 3, expected 1 or the "
                      r"call's 2", mask)
    mask = flash_mlir.create_block_mask(causal, None, 2, 256, 256)
    block_mask_raises(r"kv_num_blocks has head extent 2, expected 1 or the "
                      r"call's 4 \(layouts are per query head\)", mask)


def manual_mask(**changes):
    mask = flash_mlir.create_block_mask(causal, None, None, 256, 256)
    fields = dict(kv_num_blocks=mask.kv_num_blocks,
                  kv_indices=mask.kv_indices,
                  full_kv_num_blocks=mask.full_kv_num_blocks,
                  full_kv_indices=mask.full_kv_indices,
                  block_size=(128, 128), seq_lengths=(256, 256))
    fields.update(changes)
    return SimpleNamespace(**fields)


def test_block_mask_tensors():
    good = manual_mask()
    block_mask_raises(r"kv_indices must be int32, got torch.int64",
                      manual_mask(kv_indices=good.kv_indices.long()))
    block_mask_raises(r"full_kv_num_blocks must be a tensor, got list",
                      manual_mask(full_kv_num_blocks=[[[1, 2]]]))
    block_mask_raises(r"full_kv_num_blocks and full_kv_indices must be given "
                      r"together", manual_mask(full_kv_indices=None))
    block_mask_raises(r"kv_num_blocks and kv_indices must be 3-D and 4-D, got "
                      r"shapes \(1, 2\) and",
                      manual_mask(kv_num_blocks=good.kv_num_blocks[0]))
    block_mask_raises(r"kv_num_blocks has 1 query tiles, expected "
                      r"ceil\(Lq / block_q\) = 2",
                      manual_mask(kv_num_blocks=good.kv_num_blocks[..., :1]))
    block_mask_raises(r"kv_indices has shape \(1, 1, 2, 0\), expected "
                      r"\(1, 1, 2, 'N >= 1'\)",
                      manual_mask(kv_indices=good.kv_indices[..., :0]))


def test_block_mask_must_fit_the_kernel():
    mask = flash_mlir.create_block_mask(causal, None, None, 256, 256,
                                        block=(64, 128))
    layout = check_block_mask(mask, 2, 4, 256, 256)
    info = SimpleNamespace(name=b"flash_fwd_d64_f16_none_sparse_sm_90a",
                           cta_q=128, cta_kv=64)
    with pytest.raises(UnsupportedError,
                       match=r"block_mask: block size \(64, 128\) does not fit "
                             r"kernel flash_fwd_d64_f16_none_sparse_sm_90a, "
                             r"whose CTAs take 128 query rows \(cta_q\) and "
                             r"64-key tiles \(cta_kv\): block_q must be a "
                             r"multiple of 128"):
        check_kernel_fits(info, layout)
    check_kernel_fits(SimpleNamespace(name=b"k", cta_q=64, cta_kv=32),
                      layout)


@pytest.mark.parametrize("p", [-0.5, 1.5, float("nan")])
def test_dropout_outside_0_1_is_refused(p):
    raises(r"dropout_p must be in \[0, 1\]", *qkv(), dropout_p=p)


@pytest.mark.parametrize("p", [0.0, 0.1, 1.0])
def test_dropout_is_fine(p):
    # Valid probabilities get as far as the device check.
    raises(r"q is on cpu", *qkv(), dropout_p=p)


@pytest.mark.parametrize("dtypes,match", [
    ((torch.float32,) * 3, r"dtype torch.float32 is not supported: .*"
                           r"torch.float16 or torch.bfloat16"),
    ((torch.float16, torch.bfloat16, torch.float16),
     r"q, k and v must have one dtype"),
])
def test_dtypes(dtypes, match):
    q, k, v = (t.to(dt) for t, dt in zip(qkv(), dtypes))
    raises(match, q, k, v)


@pytest.mark.parametrize("d", [12, 4, 264, 0])
def test_head_dim_not_supported(d):
    raises(rf"head dim {d} is not supported: .*multiples of 8 up to 256",
           *qkv(d=d))


def test_head_dims_differ():
    q, k, v = qkv()
    raises(r"q, k and v must have one head dim, got 64, 64 and 32",
           q, k, v[..., :32])


def test_rank():
    q, k, v = qkv()
    raises(r"q must be 4-D \[B, H, L, D\], got shape \(4, 16, 64\)",
           q[0], k, v)


def test_kv_shapes_differ():
    q, k, v = qkv()
    raises(r"k and v must agree in \[B, H, L\]", q, k, v[:, :, :8])


def test_batch_differs():
    q, k, v = qkv()
    raises(r"same batch size, got 2 and 1", q, k[:1], v[:1])


def test_heads_differ_without_gqa():
    raises(r"q has 8 heads and k, v have 2: pass enable_gqa=True",
           *qkv(hq=8, hkv=2))


def test_gqa_not_a_multiple():
    raises(r"enable_gqa: the query heads \(6\) must be a multiple of the "
           r"key/value heads \(4\)", *qkv(hq=6, hkv=4), enable_gqa=True)


@pytest.mark.parametrize("scale", [0.0, -1.0, math.inf, math.nan, "x"])
def test_scale(scale):
    raises(r"scale must be", *qkv(), scale=scale)


def test_last_dim_not_contiguous():
    q, k, v = qkv()
    k = torch.randn(2, 4, 64, 16, dtype=torch.float16).transpose(2, 3)
    raises(r"k: the last dimension must be contiguous", q, k, v)


@pytest.mark.parametrize("window,match", [
    ((-1, 0), r"window: left must be an int >= 0"),
    ((0, 1.5), r"window: right must be an int >= 0"),
    (5, r"window must be a \(left, right\) pair"),
])
def test_window(window, match):
    raises(match, *qkv(), window=window)


def test_window_with_is_causal():
    raises(r"is_causal=True and window together", *qkv(), is_causal=True,
           window=(4, 0))


def test_valid_call_reaches_the_device_check():
    # A transposed [B, L, H, D] layout is fine; only the device is refused.
    q, k, v = (t.transpose(1, 2).contiguous().transpose(1, 2)
               for t in qkv(d=40))
    raises(r"q is on cpu", q, k, v, enable_gqa=True)


@pytest.mark.parametrize("kwargs,expected", [
    ({}, (64, "f16", "none", (0, 0))),
    ({"is_causal": True}, (64, "f16", "causal", (0, 0))),
    ({"window": (None, 0)}, (64, "f16", "causal_bottom_right", (0, 0))),
    ({"window": (None, None)}, (64, "f16", "none", (0, 0))),
    ({"window": (3, 1)}, (64, "f16", "sliding_window", (3, 1))),
    ({"window": (3, None)}, (64, "f16", "sliding_window", (3, 16 + 24))),
    # Sides past Lq + Lk (even past int64) are unbounded: passed as Lq + Lk.
    ({"window": (2**63 - 1, 2**70)},
     (64, "f16", "sliding_window", (16 + 24, 16 + 24))),
    ({"window": (41, 40)}, (64, "f16", "sliding_window", (40, 40))),
])
def test_spec_selection(kwargs, expected, monkeypatch):
    q, k, v = qkv(lq=16, lk=24)
    monkeypatch.setattr(torch.Tensor, "device", torch.device("cuda", 0))
    call = check_arguments(q, k, v, **kwargs)
    assert (call.head_dim, call.dtype, call.mask, call.window) == expected
    assert call.scale == pytest.approx(1 / 8)


@pytest.mark.parametrize("d,kernel_d", [(8, 32), (32, 32), (40, 64),
                                        (64, 64), (72, 96), (136, 192),
                                        (200, 256), (256, 256)])
def test_head_dim_padding(d, kernel_d):
    from flash_mlir._spec import kernel_head_dim
    assert kernel_head_dim(d) == kernel_d


def test_bf16_and_scale(monkeypatch):
    q, k, v = qkv(dtype=torch.bfloat16, d=96)
    monkeypatch.setattr(torch.Tensor, "device", torch.device("cuda", 0))
    call = check_arguments(q, k, v, scale=0.5)
    assert (call.dtype, call.head_dim, call.scale) == ("bf16", 96, 0.5)


def test_compile_chip():
    from flash_mlir._spec import compile_chip

    def runs(device, code, is_ptx):  # the runtime's rule, for PTX
        if code % 10:
            return device // 10 == code // 10
        return code <= device

    assert compile_chip(900, runs) == "sm_90a"
    assert compile_chip(800, runs) == "sm_80"
    assert compile_chip(860, runs) == "sm_86"
    assert compile_chip(870, runs) == "sm_86"
    assert compile_chip(1200, runs) == "sm_90"
    with pytest.raises(UnsupportedError, match=r"sm_75: the kernels need "
                                               r"sm_80"):
        compile_chip(750, runs)


def test_backward_gets_saved_tensors(monkeypatch):
    """The autograd function saves what the backward kernels need and hands
    it, with both output gradients, to _attention.backward."""
    from flash_mlir import _attention

    def fake_forward(q, k, v, call):
        return torch.zeros_like(q), torch.zeros(q.shape[:3])

    seen = {}

    def fake_backward(dout, dlse, q, k, v, out, lse, call):
        seen.update(dout=dout, dlse=dlse, q=q, lse=lse, call=call)
        return torch.ones_like(q), torch.ones_like(k), torch.ones_like(v)

    monkeypatch.setattr(_attention, "forward", fake_forward)
    monkeypatch.setattr(_attention, "backward", fake_backward)
    q, k, v = (t.requires_grad_() for t in qkv())
    call = flash_mlir._spec.KernelCall(64, "f16", "none", (0, 0), 0.125)
    out, lse = _attention._FlashAttention.apply(q, k, v, call)
    (out.float().sum() * 2).backward()
    assert seen["call"] is call and seen["q"] is not None
    assert torch.equal(seen["dout"], torch.full_like(out, 2))
    assert seen["dlse"] is None  # the lse was not used
    assert torch.equal(q.grad, torch.ones_like(q))
    assert torch.equal(k.grad, torch.ones_like(k))


def test_backward_above_head_dim_128_raises(monkeypatch):
    from flash_mlir import _attention

    def fake_forward(q, k, v, call):
        return torch.zeros_like(q), torch.zeros(q.shape[:3])

    monkeypatch.setattr(_attention, "forward", fake_forward)
    q, k, v = (torch.randn(1, 2, 8, 192, dtype=torch.float16,
                           requires_grad=True) for _ in range(3))
    call = flash_mlir._spec.KernelCall(192, "f16", "none", (0, 0), 0.125)
    out, _ = _attention._FlashAttention.apply(q, k, v, call)
    with pytest.raises(UnsupportedError,
                       match=r"head dim 192: flash_mlir.attention has no "
                             r"backward pass above head dim 128 yet"):
        out.sum().backward()


def test_sparse_backward_raises(monkeypatch):
    from flash_mlir import _attention

    def fake_forward(q, k, v, call):
        return torch.zeros_like(q), torch.zeros(q.shape[:3])

    monkeypatch.setattr(_attention, "forward", fake_forward)
    q, k, v = (t.requires_grad_() for t in qkv())
    call = flash_mlir._spec.KernelCall(64, "f16", "none", (0, 0), 0.125,
                                       layout=object())
    out, _ = _attention._FlashAttention.apply(q, k, v, call)
    with pytest.raises(UnsupportedError,
                       match=r"no backward pass for block_mask calls yet"):
        out.sum().backward()
