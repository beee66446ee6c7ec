"""flash_mlir as a Hugging Face transformers attention implementation.

    import flash_mlir.transformers
    flash_mlir.transformers.register()
    model = AutoModelForCausalLM.from_config(config,
                                             attn_implementation="mlir_attention")

Needs transformers >= 4.48 (AttentionInterface). Causal and unmasked
attention run on flash-mlir's kernels, with the model's attention dropout in
training; a padding mask, soft-capping, sliding windows passed by the model,
attention sinks and head masks raise UnsupportedError.
"""

import torch

from ._attention import attention
from ._errors import UnsupportedError

# transformers treats every implementation name containing "flash" as a
# FlashAttention variant to fetch from its hub, so the name avoids the word.
NAME = "mlir_attention"

# Keyword arguments that change the result when set: not supported yet.
_UNSUPPORTED_KWARGS = {
    "softcap": "logit soft-capping",
    "sliding_window": "a model-defined sliding window",
    "s_aux": "attention sinks",
    "head_mask": "head masks",
}


def register(name=NAME):
    """Registers flash_mlir's attention under `name` in transformers'
    AttentionInterface, and the SDPA mask builder for it, so that padding
    reaches the attention function (which refuses it) instead of vanishing
    (transformers builds no mask for implementations without a builder)."""
    try:
        from transformers import AttentionInterface
    except ImportError as err:
        raise ImportError(
            "flash_mlir.transformers.register needs transformers >= 4.48 "
            f"(AttentionInterface): {err}") from err
    if "flash" in name:
        raise ValueError(
            f"attention implementation name {name!r} contains 'flash', which "
            "transformers takes for a FlashAttention build to fetch from its "
            "hub; choose another name")
    AttentionInterface.register(name, attention_forward)
    try:
        from transformers.masking_utils import (ALL_MASK_ATTENTION_FUNCTIONS,
                                                sdpa_mask)
    except ImportError:
        return  # Older versions build the 4-D mask in the model.
    ALL_MASK_ATTENTION_FUNCTIONS.register(name, sdpa_mask)


def attention_forward(module, query, key, value, attention_mask,
                      dropout=0.0, scaling=None, is_causal=None, **kwargs):
    """The attention function transformers calls: query [B, Hq, Lq, D], key
    and value [B, Hkv, Lk, D]; returns ([B, Lq, Hq, D], None)."""
    for key_name, what in _UNSUPPORTED_KWARGS.items():
        if kwargs.get(key_name) is not None:
            raise UnsupportedError(
                f"{key_name}: {what} is not supported by flash_mlir yet")
    if kwargs.get("output_attentions"):
        raise UnsupportedError(
            "output_attentions: flash_mlir never forms the attention weights")
    if is_causal is None:
        is_causal = getattr(module, "is_causal", True)
    lq, lk = query.shape[2], key.shape[2]
    if attention_mask is None:
        # As transformers' SDPA path: one query row needs no causal mask.
        causal = bool(is_causal) and lq > 1
    else:
        kind = classify_mask(attention_mask, lq, lk)
        if kind is None:
            raise UnsupportedError(
                "attention_mask: only causal or all-visible masks are "
                "supported; this one (e.g. padding) hides other keys. Batch "
                "sequences of one length without padding, or use another "
                "attn_implementation for padded batches")
        causal = kind == "causal"
    # transformers' causal masks end at the last key (bottom-right), which is
    # top-left when Lq == Lk and right for cached decoding too.
    out = attention(query, key, value, dropout_p=dropout, scale=scaling,
                    enable_gqa=query.shape[1] != key.shape[1],
                    window=(None, 0) if causal else None)
    return out.transpose(1, 2), None


def classify_mask(mask, lq, lk):
    """'full' when a transformers attention mask (bool, True = attend, or
    additive float) shows every key, 'causal' when it is the bottom-right
    causal mask, None otherwise."""
    if mask.dim() != 4:
        return None
    mask = mask[..., :lk]
    if mask.shape[-2:] != (lq, lk) and mask.shape[-2:] != (1, lk):
        return None
    if mask.dtype == torch.bool:
        visible = mask
    else:
        hidden = mask <= torch.finfo(mask.dtype).min / 2
        if not torch.all(hidden | (mask == 0)):
            return None  # A bias, not a mask.
        visible = ~hidden
    if bool(visible.all()):
        return "full"
    i = torch.arange(lq, device=mask.device)[:, None]
    j = torch.arange(lk, device=mask.device)[None, :]
    causal = j <= i + (lk - lq)
    if visible.shape[-2] == lq and bool((visible == causal).all()):
        return "causal"
    return None
