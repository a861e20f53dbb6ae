"""Adapter for plain PyTorch modules that map a float tensor of shape (B, *input_shape) to logits (a classifier)
or to real values (a regressor with a scalar or vector head)."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InvalidArgumentError, InvalidTypeError, check_choice, check_int
from .base import Encoded, FeatureInfo, GradientAdapter

__all__ = ["TorchAdapter"]


class TorchAdapter(GradientAdapter):
    """Wrap a module ``f(x: Tensor[B, *input_shape]) -> Tensor[B, n_classes]`` (or, for a regressor,
    ``Tensor[B, n_outputs]`` or ``Tensor[B]`` of real values).

    Features are the input's elements along axis 1 (columns of a table, time steps of a sequence);
    attributions are summed over any further axes. Inputs are given to the module in its own floating
    dtype (float64 for a float64 model), so no precision is lost on the way.

    Parameters
    ----------
    model : torch.nn.Module
        Put in eval mode.
    task : {"classifier", "regressor"}, default "classifier"
        A regressor's outputs are real values (``output_kind`` "values"), explained as ``output="value"``.
    class_names : sequence of str, optional
        Defaults to ``class_0 ... class_{C-1}``, with C read from a first forward pass. For a regressor, the
        names of its outputs (also ``output_names``); default ``("value",)`` or ``value_0, value_1, ...``.
    feature_names : sequence of str, optional
        Defaults to ``x0, x1, ...``.
    input_shape : tuple of int, optional
        Shape of one example; by default one example is a 1-D vector.
    output_kind : {"logits", "probabilities"}, default "logits"
        What a classifier returns (a regressor's outputs are "values").
    batch_size : int, default 256
    """

    baseline_kinds: ClassVar[tuple[str, ...]] = ("zero",)
    modality = "tensor"
    input_description = "a float array"

    def __init__(self, model: nn.Module, *, class_names: Sequence[str] | None = None,
                 feature_names: Sequence[str] | None = None, input_shape: Sequence[int] | None = None,
                 output_kind: str = "logits", batch_size: int = 256, name: str | None = None,
                 task: str = "classifier", output_names: Sequence[str] | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise InvalidTypeError(f"The 'model' parameter of TorchAdapter must be a torch.nn.Module. "
                                   f"Got {type(model).__name__}.")
        self.model = model.eval()
        self.task = check_choice(task, "task", ("classifier", "regressor"), owner="TorchAdapter")
        if output_names is not None and class_names is not None:
            raise InvalidArgumentError("Give TorchAdapter either 'class_names' or 'output_names' (the same thing "
                                       "for a regressor), not both.")
        class_names = output_names if output_names is not None else class_names
        if self.task == "regressor":
            if output_kind not in ("logits", "values"):  # "logits" is the default, left as is
                raise InvalidArgumentError(f"The 'output_kind' of a regressor's TorchAdapter is 'values' (real "
                                           f"outputs). Got {output_kind!r}.")
            output_kind = "values"
        else:
            output_kind = check_choice(output_kind, "output_kind", ("logits", "probabilities"), owner="TorchAdapter")
        self.output_kind = output_kind
        self.batch_size = check_int(batch_size, "batch_size", owner="TorchAdapter", minimum=1)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.feature_names = tuple(feature_names) if feature_names is not None else None
        self._class_names = tuple(class_names) if class_names is not None else None
        self.name = name or type(model).__name__

    @property
    def module(self) -> nn.Module:
        return self.model

    @property
    def device(self) -> torch.device:  # type: ignore[override]
        for p in self.model.parameters():
            return p.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the module's parameters (float32 for a module without any)."""
        for p in self.model.parameters():
            if p.is_floating_point():
                return p.dtype
        return torch.float32

    @property
    def _numpy_dtype(self) -> np.dtype:
        return torch.empty(0, dtype=self.dtype).numpy().dtype

    @property
    def class_names(self) -> tuple[str, ...]:  # type: ignore[override]
        if self._class_names is None:
            raise InvalidArgumentError("The class names of this TorchAdapter are not known yet; pass "
                                       "'class_names' or call predict first.")
        return self._class_names

    def split_inputs(self, inputs: Any) -> tuple[list[np.ndarray], bool]:
        if isinstance(inputs, torch.Tensor):
            array = inputs.detach().cpu().numpy()
        elif isinstance(inputs, (np.ndarray, list, tuple)):
            try:
                array = np.asarray(inputs, dtype=self._numpy_dtype)
            except (TypeError, ValueError) as exc:
                raise InvalidTypeError(f"The 'inputs' parameter must be a numeric array. {exc}") from None
        else:
            raise InvalidTypeError(f"The 'inputs' parameter must be a tensor or array of shape (B, *input_shape) "
                                   f"or input_shape. Got {type(inputs).__name__}.")
        example_ndim = len(self.input_shape) if self.input_shape is not None else 1
        if array.ndim == example_ndim:
            array, single = array[None], True
        elif array.ndim == example_ndim + 1:
            single = False
        else:
            raise InvalidArgumentError(f"The 'inputs' parameter must have {example_ndim} (one example) or "
                                       f"{example_ndim + 1} (a batch) dimensions. Got shape {array.shape}.")
        if array.shape[0] == 0 or array[0].size == 0:
            raise InvalidArgumentError(f"The 'inputs' parameter is empty (shape {array.shape}).")
        if self.input_shape is not None and tuple(array.shape[1:]) != self.input_shape:
            raise InvalidArgumentError(f"Each input must have shape {self.input_shape}. Got {array.shape[1:]}.")
        if self.feature_names is not None and array.shape[1] != len(self.feature_names):
            raise InvalidArgumentError(f"Each input must have {len(self.feature_names)} features along axis 1 "
                                       f"(feature_names). Got {array.shape[1]}.")
        examples = [np.asarray(a, dtype=self._numpy_dtype) for a in array]
        if self._class_names is None:
            self.predict(examples[:1])  # one forward pass tells the number of classes
        return examples, single

    def fingerprint(self, example: np.ndarray) -> bytes:
        return str(example.shape).encode() + np.ascontiguousarray(example).tobytes()

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        if self.task == "regressor" and out.dim() == 1:  # a scalar head: one output per row
            out = out[:, None]
        if self._class_names is None:
            self._class_names = (tuple(f"class_{i}" for i in range(out.shape[-1])) if self.task == "classifier"
                                 else ("value",) if out.shape[-1] == 1
                                 else tuple(f"value_{i}" for i in range(out.shape[-1])))
        return out

    def model_inputs(self, rows: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
        """The rows stacked as ``x`` (B, *input_shape) on the model's device, in its dtype."""
        return {"x": torch.as_tensor(np.stack(rows), device=self.device, dtype=self.dtype)}

    def run(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self._call(inputs["x"])

    def encode(self, examples: Sequence[np.ndarray]) -> Encoded:
        x = torch.as_tensor(np.stack(examples), device=self.device, dtype=self.dtype)
        n = x.shape[1]
        labels = self.feature_names or tuple(f"x{i}" for i in range(n))
        info = FeatureInfo(labels=tuple(labels), positions=tuple(range(n)))
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        return Encoded(x=x, extras={}, feature_mask=mask, features=[info] * len(examples))

    def forward(self, x: torch.Tensor, extras: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self._call(x)
        if self.output_kind == "probabilities":
            # Gradient methods explain logits; log-probabilities are logits up to a per-row constant.
            out = torch.log(out.clamp_min(1e-12))
        return out

    def baseline(self, encoded: Encoded, kind: str) -> torch.Tensor:
        check_choice(kind, "baseline", self.baseline_kinds)
        return torch.zeros_like(encoded.x)
