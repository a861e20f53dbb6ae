"""int8 dynamic quantization of linear layers with PyTorch's own quantization API."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator

import torch
from torch import nn

from ..errors import InvalidTypeError
from ..models import ModelAdapter
from ._common import record, working_copy

__all__ = ["quantize_int8", "Int8Linear", "quantize_module"]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.ao.quantization warns that it is deprecated on every call; lumos says so once, in its docs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.ao.quantization is deprecated.*")
        warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
        warnings.filterwarnings("ignore", message=".*reduce_range.*")
        yield


class _StraightThrough(torch.autograd.Function):
    """Forward: the int8 kernel. Backward: the gradient of the same layer with the dequantized weights (the
    activations' rounding has zero derivative almost everywhere; passing the gradient straight through it is
    the standard estimator, Bengio et al. 2013)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, layer: "Int8Linear") -> torch.Tensor:
        ctx.layer = layer
        return layer.quantized(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad @ ctx.layer.dequantized_weight().to(grad.dtype), None


class Int8Linear(nn.Module):
    """A linear layer whose weights are int8 and whose product runs on PyTorch's dynamic int8 kernel
    (activations quantized on the fly, per tensor). Gradients with respect to the input flow through, so
    gradient attribution methods work on quantized models too."""

    def __init__(self, quantized: nn.Module) -> None:
        super().__init__()
        self.quantized = quantized

    @property
    def in_features(self) -> int:
        return int(self.quantized.in_features)

    @property
    def out_features(self) -> int:
        return int(self.quantized.out_features)

    def weight_int8(self) -> torch.Tensor:
        """The integer weights, (out_features, in_features) int8."""
        return self.quantized.weight().int_repr()

    def weight_scale(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """``(scales, zero_points, per_channel)``: per output row, or one of each for the whole tensor."""
        w = self.quantized.weight()
        if w.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
            return w.q_per_channel_scales().float(), w.q_per_channel_zero_points(), True
        return torch.tensor([w.q_scale()], dtype=torch.float32), torch.tensor([w.q_zero_point()]), False

    def bias(self) -> torch.Tensor | None:
        return self.quantized.bias()

    def dequantized_weight(self) -> torch.Tensor:
        return self.quantized.weight().dequantize()

    def load_int8(self, weight: torch.Tensor, scales: torch.Tensor, zero_points: torch.Tensor, per_channel: bool,
                  bias: torch.Tensor | None) -> None:
        """Set the weights from their stored integer form (what :func:`lumos.compression.load` does)."""
        with _quiet():
            if per_channel:
                q = torch._make_per_channel_quantized_tensor(weight, scales.double(), zero_points.long(), 0)
            else:
                q = torch._make_per_tensor_quantized_tensor(weight, float(scales[0]), int(zero_points[0]))
            self.quantized.set_weight_bias(q, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return _StraightThrough.apply(x, self)
        return self.quantized(x)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


def quantize_module(module: nn.Module, *, per_channel: bool = True) -> nn.Module:
    """Quantize every ``nn.Linear`` of ``module`` to int8 in place (``torch.ao.quantization.quantize_dynamic``)
    and wrap each in :class:`Int8Linear`. Returns ``module``."""
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    with _quiet():
        quantize_dynamic(module, {nn.Linear: qconfig}, dtype=torch.qint8, inplace=True)
    kind = torch.ao.nn.quantized.dynamic.Linear
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, kind):
                setattr(parent, name, Int8Linear(child))
    return module


def quantize_int8(model: Any, *, per_channel: bool = True) -> ModelAdapter:
    """Quantize the weights of every linear layer to int8 (dynamic quantization: activations are quantized on
    the fly at each call), with PyTorch's ``quantize_dynamic``.

    The int8 kernels run on the CPU, so the quantized copy lives there whatever the original's device.
    Embeddings, normalisation and convolution layers stay in float32. Gradients pass straight through the
    quantized layers (:class:`Int8Linear`), so every attribution method applies.

    Parameters
    ----------
    model : adapter, zoo name or module with a torch model
        Not modified: the result holds a quantized copy.
    per_channel : bool, default True
        One scale per output row of each weight (rather than one per weight tensor). Rows of a linear layer
        differ in range by orders of magnitude in transformers, so per-tensor scales zero many small rows.

    Caveat
    ------
    PyTorch's dynamic kernels choose one activation scale per call for the whole input tensor, so an
    example's output depends slightly on the other examples (and padding) in its batch. lumos measures this
    in its tests and benchmark rather than hiding it.

    References
    ----------
    Jacob et al. Quantization and training of neural networks for efficient integer-arithmetic-only
    inference. CVPR 2018. Zafrir, Boudoukh, Izsak, Wasserblat. Q8BERT: quantized 8bit BERT. EMC2 2019.
    """
    owner = "quantize_int8"
    if not isinstance(per_channel, bool):
        raise InvalidTypeError(f"The 'per_channel' parameter of {owner} must be a bool. Got {per_channel!r}.")
    adapter = working_copy(model, owner=owner)
    adapter.module.to("cpu")
    quantize_module(adapter.module, per_channel=per_channel)
    return record(adapter, {"method": "int8", "value": None, "per_channel": per_channel})
