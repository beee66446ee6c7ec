"""The transformers adapter: mask classification and refusals on the CPU; a
GPT-2 forward with attn_implementation="mlir_attention" against "sdpa" on a GPU.
"""

import copy
import math

import pytest

torch = pytest.importorskip("torch")

from conftest import requires_cuda  # noqa: E402
from flash_mlir import UnsupportedError  # noqa: E402
from flash_mlir.transformers import attention_forward, classify_mask  # noqa: E402


def causal_bool(lq, lk):
    i = torch.arange(lq)[:, None]
    j = torch.arange(lk)[None, :]
    return (j <= i + lk - lq)[None, None]


def additive(visible, dtype=torch.float32):
    return torch.where(visible, torch.zeros((), dtype=dtype),
                       torch.full((), torch.finfo(dtype).min, dtype=dtype))


@pytest.mark.parametrize("lq,lk", [(6, 6), (3, 9), (1, 5)])
def test_classify_causal(lq, lk):
    mask = causal_bool(lq, lk).expand(2, 1, lq, lk)
    assert classify_mask(mask, lq, lk) == ("full" if lq == 1 else "causal")
    assert classify_mask(additive(mask), lq, lk) == ("full" if lq == 1
                                                     else "causal")
    # transformers may hand a longer mask; the extra keys are cut off.
    longer = torch.cat([mask, torch.zeros(2, 1, lq, 3, dtype=torch.bool)], -1)
    assert classify_mask(longer, lq, lk) == classify_mask(mask, lq, lk)


def test_classify_others():
    padded = causal_bool(6, 6).expand(2, 1, 6, 6).clone()
    padded[0, :, :, :2] = False
    assert classify_mask(padded, 6, 6) is None
    assert classify_mask(additive(padded), 6, 6) is None
    assert classify_mask(torch.ones(1, 1, 4, 4, dtype=torch.bool), 4,
                         4) == "full"
    bias = torch.randn(1, 1, 4, 4)
    assert classify_mask(bias, 4, 4) is None
    top_left = causal_bool(3, 3).expand(1, 1, 3, 3)
    padded_top_left = torch.cat(
        [top_left, torch.zeros(1, 1, 3, 2, dtype=torch.bool)], -1)
    assert classify_mask(padded_top_left, 3, 5) is None


class Module:
    is_causal = True


def qkv():
    return (torch.randn(1, 2, 4, 64, dtype=torch.float16) for _ in range(3))


def test_refusals():
    # Dropout passes through: the call gets as far as the device check.
    with pytest.raises(UnsupportedError, match=r"q is on cpu"):
        attention_forward(Module(), *qkv(), None, dropout=0.1)
    with pytest.raises(UnsupportedError, match=r"dropout_p must be in"):
        attention_forward(Module(), *qkv(), None, dropout=1.5)
    with pytest.raises(UnsupportedError, match=r"softcap: logit soft"):
        attention_forward(Module(), *qkv(), None, softcap=30.0)
    with pytest.raises(UnsupportedError, match=r"sliding_window"):
        attention_forward(Module(), *qkv(), None, sliding_window=4)
    padded = causal_bool(4, 4).clone()
    padded[..., 0] = False
    with pytest.raises(UnsupportedError, match=r"attention_mask: only causal"
                                               r" or all-visible masks"):
        attention_forward(Module(), *qkv(), padded)


def test_causal_request_reaches_the_kernel_checks():
    # On the CPU the call gets as far as the device check.
    with pytest.raises(UnsupportedError, match=r"q is on cpu"):
        attention_forward(Module(), *qkv(), None, scaling=0.1,
                          sliding_window=None, position_ids=None)


def test_register():
    transformers = pytest.importorskip("transformers")
    if not hasattr(transformers, "AttentionInterface"):
        pytest.skip("transformers < 4.48")
    import flash_mlir
    flash_mlir.register_transformers()
    from transformers import AttentionInterface
    assert AttentionInterface._global_mapping["mlir_attention"] is \
        attention_forward


# Bound of the GPT-2 test: the float16 logits of flash_mlir, compared to a
# float32 SDPA run of the same weights, are within 2x (plus 1e-3 relative)
# of the float16 SDPA logits' own error.
@requires_cuda
def test_gpt2_matches_sdpa():
    transformers = pytest.importorskip("transformers")
    if not hasattr(transformers, "AttentionInterface"):
        pytest.skip("transformers < 4.48")
    from gpu_util import have, kernel_specs
    specs = kernel_specs()
    for mask in ("none", "causal_bottom_right"):
        if not have(specs, 64, "f16", mask):
            pytest.skip(f"no kernel d64 f16 {mask}")
    import flash_mlir
    flash_mlir.register_transformers()
    from transformers import AutoModelForCausalLM, GPT2Config

    config = GPT2Config(vocab_size=1000, n_positions=512, n_embd=256,
                        n_layer=3, n_head=4, attn_pdrop=0.0, resid_pdrop=0.0,
                        embd_pdrop=0.0)
    torch.manual_seed(0)
    models = {}
    for impl in ("sdpa", "mlir_attention"):
        # Each model gets its own config: transformers records the attention
        # implementation on the config object.
        model = AutoModelForCausalLM.from_config(copy.deepcopy(config),
                                                 attn_implementation=impl)
        if models:
            model.load_state_dict(models["sdpa"].state_dict())
        models[impl] = model.eval().cuda()
    ids = torch.randint(0, 1000, (2, 300), device="cuda")

    def logits(impl, dtype):
        with torch.no_grad():
            return models[impl].to(dtype)(input_ids=ids).logits.double()

    ref = logits("sdpa", torch.float32)
    sdpa = logits("sdpa", torch.float16)
    ours = logits("mlir_attention", torch.float16)

    def rel(x):
        return ((x - ref).norm() / ref.norm()).item()

    assert math.isfinite(rel(ours))
    assert rel(ours) <= 2 * rel(sdpa) + 1e-3, (rel(ours), rel(sdpa))

    # A padded batch is refused, not silently treated as unpadded.
    mask = torch.ones_like(ids)
    mask[0, :10] = 0
    with pytest.raises(UnsupportedError, match=r"attention_mask"):
        with torch.no_grad():
            models["mlir_attention"](input_ids=ids, attention_mask=mask)
    # An all-ones mask is fine.
    with torch.no_grad():
        full = models["mlir_attention"](input_ids=ids,
                                    attention_mask=torch.ones_like(ids))
    assert torch.allclose(full.logits.double(), ours, atol=1e-2)
