"""flash_mlir.attention under torch.compile on a GPU, on a PyTorch with
torch.library.custom_op (skipped on older ones): torch.compile(fullgraph=
True) of a function calling it compiles (a graph break would fail), and
gives what eager flash_mlir.attention gives on the same inputs: out, lse,
dK and dV bit for bit (the same kernels run on the same inputs), dQ within
rtol 1e-2, atol 1e-3 (its f32 atomic additions run in any order), as
test_gpu_backward.py compares attention_backward with autograd.
torch.library.opcheck checks the ops flash_mlir::attention_fwd and
attention_bwd with the real kernels.

Run with FLASH_MLIR_KERNELS=<flash-aot dir with backward kernels> and
FLASH_MLIR_RUNTIME=<path to libFlashRuntime.so>.
"""

import pytest

torch = pytest.importorskip("torch")

from conftest import requires_cuda  # noqa: E402
from gpu_util import call_kwargs, have, kernel_specs, make  # noqa: E402

import flash_mlir  # noqa: E402
from flash_mlir import _attention  # noqa: E402

pytestmark = [requires_cuda, pytest.mark.skipif(
    not _attention._CUSTOM_OP,
    reason="needs torch.library.custom_op (PyTorch 2.4 or later)")]

DTYPES = {"f16": torch.float16, "bf16": torch.bfloat16}

CASES = {
    "causal-d64-f16": dict(B=2, Hq=4, Hkv=4, Lq=150, Lk=150, D=64,
                           dtype="f16", layout="bhld", mask="causal",
                           window=None),
    # GQA, a head dim padded to 96, [B, L, H, D] storage, a window.
    "window-gqa-d80-bf16": dict(B=1, Hq=6, Hkv=2, Lq=77, Lk=200, D=80,
                                dtype="bf16", layout="blhd",
                                mask="sliding_window", window=(64, 9)),
}


def needs(c):
    if not have(kernel_specs(), c["D"], c["dtype"], c["mask"]):
        pytest.skip(f"no {c['mask']} kernel for head dim {c['D']} "
                    f"{c['dtype']}")


def case_inputs(c, lq=None, lk=None):
    dtype = DTYPES[c["dtype"]]
    lq, lk = lq or c["Lq"], lk or c["Lk"]
    q = make(c["B"], c["Hq"], lq, c["D"], dtype, c["layout"])
    k, v = (make(c["B"], c["Hkv"], lk, c["D"], dtype, c["layout"])
            for _ in "kv")
    return q, k, v


def case_kwargs(c):
    return dict(enable_gqa=c["Hq"] != c["Hkv"],
                **call_kwargs(c["mask"], c["window"]))


def output_grads(q):
    """Random gradients of (out, lse) (out has q's layout)."""
    return (torch.randn_like(q), torch.randn(q.shape[:3], device=q.device))


def run(fn, inputs, grads):
    """fn's outputs for `inputs` (as fresh leaves) and the gradients of the
    inputs for the gradients `grads` of the outputs."""
    leaves = [t.detach().requires_grad_() for t in inputs]
    outputs = fn(*leaves)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return outputs, torch.autograd.grad(outputs, leaves, grads)


def check_same(eager, compiled):
    (outs, (dq, dk, dv)), (c_outs, (c_dq, c_dk, c_dv)) = eager, compiled
    for x, y in zip(outs, c_outs):
        assert torch.equal(x, y)
    torch.testing.assert_close(c_dq, dq, rtol=1e-2, atol=1e-3)
    assert torch.equal(c_dk, dk) and torch.equal(c_dv, dv)


@pytest.mark.parametrize("name", sorted(CASES))
def test_compile_fullgraph_matches_eager(name):
    c = CASES[name]
    needs(c)
    kwargs = case_kwargs(c)

    def f(q, k, v):
        return flash_mlir.attention(q, k, v, return_lse=True, **kwargs)

    inputs = case_inputs(c)
    grads = output_grads(inputs[0])
    compiled = torch.compile(f, fullgraph=True)
    check_same(run(f, inputs, grads), run(compiled, inputs, grads))


def test_compile_without_lse():
    """The lse is not returned: no gradient flows into it."""
    c = CASES["causal-d64-f16"]
    needs(c)

    def f(q, k, v):
        return flash_mlir.attention(q, k, v, is_causal=True) * 2

    inputs = case_inputs(c)
    grads = (torch.randn_like(inputs[0]),)
    check_same(run(f, inputs, grads),
               run(torch.compile(f, fullgraph=True), inputs, grads))


def test_compile_other_lengths():
    """A compiled function called with new lengths (recompiled, with
    dynamic lengths after the first change) still matches eager."""
    c = CASES["window-gqa-d80-bf16"]
    needs(c)
    kwargs = case_kwargs(c)

    def f(q, k, v):
        return flash_mlir.attention(q, k, v, return_lse=True, **kwargs)

    compiled = torch.compile(f, fullgraph=True)
    for lq, lk in ((77, 200), (100, 130), (33, 257)):
        inputs = case_inputs(c, lq, lk)
        grads = output_grads(inputs[0])
        check_same(run(f, inputs, grads), run(compiled, inputs, grads))


def test_compile_keeps_the_eager_errors():
    # Argument checks run while tracing; a refused call raises as in eager.
    c = CASES["causal-d64-f16"]
    q, k, v = case_inputs(c)
    compiled = torch.compile(
        lambda q, k, v: flash_mlir.attention(q, k, v, dropout_p=1.5))
    with pytest.raises(flash_mlir.UnsupportedError,
                       match=r"dropout_p must be in \[0, 1\]"):
        compiled(q, k, v)


def test_compile_with_dropout_matches_eager():
    """Under torch.compile a call with dropout draws the seed and offset as
    an eager call does: from the same generator state, the same output bit
    for bit, and the same gradients."""
    q, k, v = (torch.randn(2, 4, 200, 64, device="cuda", dtype=torch.bfloat16,
                           requires_grad=True) for _ in range(3))

    def f(q, k, v):
        return flash_mlir.attention(q, k, v, dropout_p=0.2, is_causal=True)

    results = []
    for fn in (torch.compile(f), f):
        torch.manual_seed(3)
        out = fn(q, k, v)
        out.sum().backward()
        results.append([out] + [t.grad.clone() for t in (q, k, v)])
        for t in (q, k, v):
            t.grad = None
    (out, *grads), (eager_out, *eager_grads) = results
    assert torch.equal(out, eager_out)
    for got, expected in zip(grads, eager_grads):
        # dQ's atomics order varies from run to run.
        torch.testing.assert_close(got, expected, rtol=1e-2, atol=1e-3)


def test_compile_backward_above_head_dim_128_raises():
    """The forward compiles and runs; the backward raises as in eager."""
    if not have(kernel_specs(), 192, "f16", "causal"):
        pytest.skip("no causal kernel for head dim 192 f16")
    q, k, v = (torch.randn(1, 2, 64, 192, device="cuda", dtype=torch.float16,
                           requires_grad=True) for _ in range(3))
    compiled = torch.compile(
        lambda q, k, v: flash_mlir.attention(q, k, v, is_causal=True),
        fullgraph=True)
    out = compiled(q, k, v)
    assert torch.equal(out, flash_mlir.attention(q, k, v, is_causal=True))
    with pytest.raises(flash_mlir.UnsupportedError,
                       match="no backward pass above head dim 128"):
        out.float().sum().backward()


@pytest.mark.skipif(not hasattr(torch.library, "opcheck"),
                    reason="needs torch.library.opcheck")
@pytest.mark.parametrize("dropout", [(0.0, 0, 0), (0.2, 1234, 8)])
@pytest.mark.parametrize("name", sorted(CASES))
def test_opcheck(name, dropout):
    c = CASES[name]
    needs(c)
    inputs = case_inputs(c)
    call = _attention.check_arguments(*inputs, **case_kwargs(c))
    # With dropout, the same seed and offset give the same mask.
    scalars = (call.mask, call.window[0], call.window[1], call.scale,
               *dropout)
    # dQ's atomics order varies from run to run: its tolerance.
    tolerance = dict(rtol=1e-2, atol=1e-3)
    q, k, v = (t.requires_grad_() for t in inputs)
    torch.library.opcheck(torch.ops.flash_mlir.attention_fwd.default,
                          (q, k, v, *scalars), **tolerance)
    with torch.no_grad():
        out, lse = torch.ops.flash_mlir.attention_fwd(q, k, v, *scalars)
        for dlse in (torch.randn_like(lse), None):
            torch.library.opcheck(
                torch.ops.flash_mlir.attention_bwd.default,
                (torch.randn_like(out), dlse, q.detach(), k.detach(),
                 v.detach(), out, lse, *scalars), **tolerance)
