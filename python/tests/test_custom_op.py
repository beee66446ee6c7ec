"""The autograd and torch.compile plumbing of flash_mlir.attention on the
CPU, with the kernels (_attention.forward and backward) replaced by a
float64 reference and check_arguments by one without the device check. On a
PyTorch with torch.library.custom_op, attention runs the ops
flash_mlir::attention_fwd / attention_bwd: gradients, torch.library.opcheck
and torch.compile(fullgraph=True) are checked here; on older ones
(Debian's 1.13) the autograd.Function that stands in for them is. The real
kernels under torch.compile: test_gpu_compile.py."""

import math

import pytest

torch = pytest.importorskip("torch")

import flash_mlir  # noqa: E402
from flash_mlir import _attention, _spec  # noqa: E402

needs_custom_op = pytest.mark.skipif(
    not _attention._CUSTOM_OP,
    reason="needs torch.library.custom_op (PyTorch 2.4 or later)")


def repeat_kv(t, q):
    return t.double().repeat_interleave(q.shape[1] // t.shape[1], 1)


def reference(q, k, v, call):
    """float64 (out, lse) of the masks none and causal (top-left), through
    torch operations: differentiable."""
    s = q.double() @ repeat_kv(k, q).transpose(-1, -2) * call.scale
    if call.mask == "causal":
        lq, lk = s.shape[-2:]
        hidden = torch.ones(lq, lk, dtype=torch.bool).triu(1)
        s = s.masked_fill(hidden, -math.inf)
    lse = s.logsumexp(-1)
    return (s - lse[..., None]).exp() @ repeat_kv(v, q), lse


def reference_forward(q, k, v, call):
    out, lse = reference(q, k, v, call)
    return _attention.empty_like_layout(q).copy_(out), lse.float()


def reference_backward(dout, dlse, q, k, v, out, lse, call):
    """The gradients as the backward kernels compute them (the row sums of
    dout * out, the probabilities from the lse), in float64."""
    s = q.double() @ repeat_kv(k, q).transpose(-1, -2) * call.scale
    if call.mask == "causal":
        s = s.masked_fill(torch.ones(s.shape[-2:], dtype=torch.bool).triu(1),
                          -math.inf)
    p = (s - lse.double()[..., None]).exp()
    do = torch.zeros(out.shape, dtype=torch.float64) if dout is None \
        else dout.double()
    ds = p * (do @ repeat_kv(v, q).transpose(-1, -2) -
              (do * out.double()).sum(-1, keepdim=True))
    if dlse is not None:
        ds = ds + p * dlse.double()[..., None]
    b, hkv, lk, d = k.shape

    def fold(t):  # sums the query heads of each key/value head
        return t.reshape(b, hkv, -1, lk, d).sum(2)

    grads = (ds @ repeat_kv(k, q) * call.scale,
             fold(ds.transpose(-1, -2) @ q.double() * call.scale),
             fold(p.transpose(-1, -2) @ do))
    return tuple(_attention.empty_like_layout(t).copy_(g)
                 for t, g in zip((q, k, v), grads))


def cpu_check(q, k, v, *, is_causal=False, scale=None, block_mask=None,
              **unused):
    """The KernelCall of the few calls made here, on CPU tensors (a
    block_mask stands for its layout)."""
    d = q.shape[3]
    return _spec.KernelCall(_spec.kernel_head_dim(d), "f16",
                            "causal" if is_causal else "none", (0, 0),
                            _spec.check_scale(scale, d), block_mask)


@pytest.fixture
def reference_kernels(monkeypatch):
    """flash_mlir.attention on CPU tensors, with the reference kernels;
    returns the arguments of each backward call."""
    calls = []

    def backward(*args):
        calls.append(args)
        return reference_backward(*args)

    monkeypatch.setattr(_attention, "check_arguments", cpu_check)
    monkeypatch.setattr(_attention, "forward", reference_forward)
    monkeypatch.setattr(_attention, "backward", backward)
    return calls


def inputs(hq=4, hkv=2, lq=24, lk=24, d=64, seed=0):
    """q ([B, L, H, D] storage, as projections give it), k and v, float16,
    requiring gradients."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, lq, hq, d, generator=g).half().transpose(1, 2)
    k, v = (torch.randn(2, hkv, lk, d, generator=g).half() for _ in "kv")
    return [t.requires_grad_() for t in (q, k, v)]


def test_path_follows_torch():
    """The custom op where torch.library.custom_op exists, else the
    autograd.Function (and the fallback keeps working: the tests below)."""
    assert _attention._CUSTOM_OP == hasattr(torch.library, "custom_op")


@pytest.mark.parametrize("is_causal", [False, True])
def test_gradients_through_out_and_lse(reference_kernels, is_causal):
    q, k, v = inputs()
    out, lse = flash_mlir.attention(q, k, v, is_causal=is_causal,
                                    enable_gqa=True, return_lse=True)
    # Eager calls take the autograd.Function (the op is for torch.compile).
    name = type(out.grad_fn).__name__
    assert "_FlashAttention" in name, name
    assert out.shape == q.shape and out.stride() == q.stride()
    assert lse.shape == q.shape[:3] and lse.dtype == torch.float32
    dout, dlse = torch.randn_like(out), torch.randn_like(lse)
    got = torch.autograd.grad((out, lse), (q, k, v), (dout, dlse))
    (dout_seen, dlse_seen, *_), = reference_kernels
    assert torch.equal(dout_seen, dout) and torch.equal(dlse_seen, dlse)
    # Against torch's autograd through the float64 reference.
    leaves = [t.detach().double().requires_grad_() for t in (q, k, v)]
    ref_out, ref_lse = reference(*leaves, cpu_check(q, k, v,
                                                    is_causal=is_causal))
    expected = torch.autograd.grad((ref_out, ref_lse), leaves,
                                   (dout.double(), dlse.double()))
    for x, t, e in zip(got, (q, k, v), expected):
        assert x.shape == t.shape and x.dtype == t.dtype
        torch.testing.assert_close(x.double(), e, rtol=2e-2, atol=2e-3)


def test_unused_lse_has_no_gradient(reference_kernels):
    # As set_materialize_grads(False) gives it: None, not zeros.
    q, k, v = inputs()
    (flash_mlir.attention(q, k, v).float().sum() * 2).backward()
    (dout, dlse, *_), = reference_kernels
    assert dlse is None
    assert torch.equal(dout, torch.full_like(dout, 2))
    assert q.grad is not None and k.grad is not None and v.grad is not None


def test_lse_alone_has_no_output_gradient(reference_kernels):
    q, k, v = inputs()
    _, lse = flash_mlir.attention(q, k, v, enable_gqa=True, return_lse=True)
    lse.sum().backward()
    (dout, dlse, *_), = reference_kernels
    assert dout is None and torch.equal(dlse, torch.ones_like(dlse))


def test_no_grad(reference_kernels):
    q, k, v = inputs()
    with torch.no_grad():
        out = flash_mlir.attention(q, k, v, enable_gqa=True)
    assert out.grad_fn is None and not out.requires_grad


def test_block_mask_calls_stay_on_the_autograd_function(reference_kernels):
    q, k, v = inputs()
    out = flash_mlir.attention(q, k, v, enable_gqa=True,
                               block_mask=object())
    assert "_FlashAttention" in type(out.grad_fn).__name__


@needs_custom_op
def test_ops_are_registered():
    fwd = torch.ops.flash_mlir.attention_fwd.default
    bwd = torch.ops.flash_mlir.attention_bwd.default
    assert [a.name for a in fwd._schema.arguments] == [
        "q", "k", "v", "mask", "window_left", "window_right", "scale",
        "dropout_p", "seed", "offset"]
    assert len(fwd._schema.returns) == 2
    assert [a.name for a in bwd._schema.arguments][:2] == ["dout", "dlse"]
    assert len(bwd._schema.returns) == 3


def call_args(q, k, v, is_causal=False, dropout=(0.0, 0, 0)):
    call = cpu_check(q, k, v, is_causal=is_causal)
    return (call.mask, call.window[0], call.window[1], call.scale) + dropout


@needs_custom_op
@pytest.mark.skipif(not hasattr(torch.library, "opcheck"),
                    reason="needs torch.library.opcheck")
@pytest.mark.parametrize("is_causal,dropout", [
    (False, (0.0, 0, 0)), (True, (0.0, 0, 0)),
    (True, (0.25, -(2**62), 2**33 + 12))])
def test_opcheck(reference_kernels, is_causal, dropout):
    q, k, v = inputs()
    scalars = call_args(q, k, v, is_causal, dropout)
    torch.library.opcheck(torch.ops.flash_mlir.attention_fwd.default,
                          (q, k, v, *scalars))
    with torch.no_grad():
        out, lse = torch.ops.flash_mlir.attention_fwd(q, k, v, *scalars)
    dout = torch.randn_like(out)
    for dlse in (torch.randn_like(lse), None):
        torch.library.opcheck(
            torch.ops.flash_mlir.attention_bwd.default,
            (dout, dlse, *(t.detach() for t in (q, k, v)), out, lse,
             *scalars))


@needs_custom_op
def test_compile_fullgraph(reference_kernels):
    """torch.compile(fullgraph=True) keeps attention in its graph (a graph
    break would fail), forward and backward, with what eager gives."""
    def f(q, k, v):
        out, lse = flash_mlir.attention(q, k, v, is_causal=True,
                                        enable_gqa=True, return_lse=True)
        return out.float().square().sum() + lse.sum()

    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    results = []
    for fn in (f, compiled):
        leaves = [t.detach().requires_grad_() for t in inputs()]
        loss = fn(*leaves)
        results.append((loss, *torch.autograd.grad(loss, leaves)))
    for eager, comp in zip(*results):
        torch.testing.assert_close(comp, eager)
