"""Identities of what an explanation is about: the model's weights and the input's content.

Both are short, deterministic content hashes (``"sha256:"`` and 16 hex digits, 64 bits), so that feedback,
caches and sharded outputs can refer to "this model" and "this input" across processes and machines.
They identify content, not objects: a copy of a model has the identity of the original.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import torch

from .errors import InvalidTypeError

__all__ = ["input_id", "weights_id"]

_HEX_DIGITS = 16


def _short(digest: "hashlib._Hash") -> str:
    return f"sha256:{digest.hexdigest()[:_HEX_DIGITS]}"


def input_id(content: bytes | bytearray | memoryview) -> str:
    """Identity of an input, from the bytes that define it (e.g. UTF-8 text, or an image's shape and pixels).

    Parameters
    ----------
    content : bytes-like
        The input's content; what counts as "the same input" is the caller's choice of bytes.

    Returns
    -------
    str
        ``"sha256:"`` followed by the first 16 hex digits of the SHA-256 of ``content``.

    Examples
    --------
    >>> input_id(b"the flight was late")
    'sha256:fe831e421c84d268'
    """
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise InvalidTypeError(f"The 'content' parameter of input_id must be bytes, bytearray or memoryview. "
                               f"Got {type(content).__name__}.")
    return _short(hashlib.sha256(content))


def weights_id(module_or_state: torch.nn.Module | Mapping[str, torch.Tensor]) -> str:
    """Identity of a model's weights: a hash of every entry of its state (parameters and persistent buffers).

    The hash covers, for each entry in order of its name, the name, dtype, shape and raw bytes, so it
    changes when any single weight changes and not when the model is copied, moved between devices or
    rebuilt from the same weights. Train/eval mode and the Python class are not part of it.

    Cost: one pass over all the weight bytes (SHA-256, about 0.5-1 GB/s on one core: ~0.5 s for a 100M
    parameter float32 model), plus a copy to the CPU of each tensor that lives on an accelerator, one at a
    time. Compute it once per model, not per explanation.

    Parameters
    ----------
    module_or_state : torch.nn.Module or mapping of str to Tensor
        A model (its ``state_dict()`` is hashed) or a state dict itself.

    Returns
    -------
    str
        ``"sha256:"`` followed by 16 hex digits.
    """
    if isinstance(module_or_state, torch.nn.Module):
        state = module_or_state.state_dict()
    elif isinstance(module_or_state, Mapping):
        state = module_or_state
    else:
        raise InvalidTypeError(f"The 'module_or_state' parameter of weights_id must be a torch.nn.Module or a "
                               f"mapping of names to tensors. Got {type(module_or_state).__name__}.")
    digest = hashlib.sha256()
    for name in sorted(state):
        for key, tensor in _entries(name, state[name]):
            header = f"{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode()
            digest.update(len(header).to_bytes(8, "little") + header)
            # Viewed as bytes, any dtype (bfloat16, bool, ...) hashes without a numpy equivalent.
            data = tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)
            digest.update(data.numpy())
    return _short(digest)


def _entries(name: str, value: Any) -> list[tuple[str, torch.Tensor]]:
    """The dense tensors that make up one state entry: the tensor itself; a quantized tensor's integers and
    quantization parameters; each element of the tuples int8 modules keep their packed weights in; a dtype
    as its name."""
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided:
            raise InvalidTypeError(f"weights_id hashes dense tensors only; the state entry {name!r} is "
                                   f"{value.layout}.")
        if not value.is_quantized:
            return [(name, value)]
        if value.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
            params = torch.tensor([value.q_scale(), float(value.q_zero_point())], dtype=torch.float64)
        else:
            params = torch.cat([value.q_per_channel_scales().double(),
                                value.q_per_channel_zero_points().double()])
        return [(f"{name}.int_repr", value.int_repr()), (f"{name}.qparams", params)]
    if isinstance(value, (tuple, list)):
        return [entry for i, v in enumerate(value) for entry in _entries(f"{name}.{i}", v)]
    if isinstance(value, torch.dtype) or value is None:
        return [(f"{name}={value}", torch.zeros(0, dtype=torch.uint8))]
    raise InvalidTypeError(f"weights_id hashes tensors (and the tuples int8 modules pack them in); the state entry "
                           f"{name!r} is {type(value).__name__}.")
