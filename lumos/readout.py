"""What is explained: the readout of a model's output.

A :class:`Readout` names which output is explained (a class per row, or a token at a position of a
sequence output, or one output of a regressor) and as which quantity (logit, probability, log-probability, or the
raw ``value`` of a regression output), optionally as a contrast ("class A rather than B").
It is applied where the model's output is produced (on the model's device, batch by batch), so that only
the explained numbers are kept: one float per row, whatever the number of classes or the vocabulary size.

>>> import numpy as np
>>> r = Readout(target=np.array([0, 2]), quantity="probability")
>>> r.apply(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 10.0]]), kind="logits").round(3)
array([0.333, 1.   ])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from .errors import InvalidArgumentError, check_choice

__all__ = ["Readout", "QUANTITIES", "OUTPUT_KINDS", "softmax"]

#: The quantities a readout can explain.
QUANTITIES = ("logit", "probability", "log_probability", "value")
#: What an adapter's raw outputs are: a classifier's logits or probabilities, a regressor's real values.
OUTPUT_KINDS = ("logits", "probabilities", "values")


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of a numpy array, in the array's own float type (the one softmax of lumos
    for numpy outputs; torch outputs use ``torch.softmax``)."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _ndim(value: Any) -> int:
    return value.dim() if isinstance(value, torch.Tensor) else np.ndim(value)


def _per_row(value: Any, name: str) -> np.ndarray | int | None:
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, torch.Tensor) and value.dim() == 1 and not value.is_floating_point():
        return value.long()  # kept on its device: the gradient path reads targets there
    if isinstance(value, torch.Tensor) and value.dim() == 2 and not value.is_floating_point():
        return value.long()
    array = np.asarray(value)
    if array.ndim not in (1, 2) or not np.issubdtype(array.dtype, np.integer):
        raise InvalidArgumentError(f"The '{name}' of a Readout must be an int, a 1-D integer array (one per row) or "
                                   f"a 2-D one (rows, K: K readouts per row). Got {value!r}.")
    return array.astype(np.int64)


@dataclass(frozen=True, eq=False)
class Readout:
    """The explained quantity of each row of model outputs.

    Parameters
    ----------
    target : int or 1-D int array
        The explained output: one index for every row, or one per row.
    quantity : {"logit", "probability", "log_probability", "value"}, default "logit"
        For a model returning probabilities, "logit" is the log-probability (a logit up to a per-row
        constant), as it has always been in lumos. "value" is the raw output as the model gives it (a
        regression output; the only quantity of outputs of kind "values", which have no probabilities).
    contrast : int or 1-D int array, optional
        A foil: the readout is ``quantity(target) - quantity(contrast)`` ("target rather than contrast").
    position : int or 1-D int array, optional
        For sequence outputs (rows, T, n_outputs), e.g. a causal LM's logits: the position read in each row
        (negative counts from the end: -1 is the last). Required for 3-D outputs, refused for 2-D ones.

    Several readouts per row (every generated token of a sequence, read at its own position) are 2-D arrays
    (rows, K) of targets (and positions, contrasts): the readout of (rows, T, n_outputs) outputs is then
    (rows, K). Outputs already taken at the K positions, (rows, K, n_outputs), are read without a position.
    A readout of per-row targets is cut to a batch's rows with :meth:`take`.
    """

    target: Any
    quantity: str = "logit"
    contrast: Any = None
    position: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", _per_row(self.target, "target"))
        if self.target is None:
            raise InvalidArgumentError("The 'target' of a Readout is required (an int or one int per row).")
        object.__setattr__(self, "contrast", _per_row(self.contrast, "contrast"))
        object.__setattr__(self, "position", _per_row(self.position, "position"))
        check_choice(self.quantity, "quantity", QUANTITIES, owner="Readout")

    @property
    def per_row(self) -> bool:
        return not isinstance(self.target, int) or any(
            not isinstance(v, (int, type(None))) for v in (self.contrast, self.position))

    @property
    def several(self) -> bool:
        """Whether each row has several readouts (2-D targets (rows, K))."""
        return _ndim(self.target) == 2

    def take(self, rows: Sequence[int] | np.ndarray) -> "Readout":
        """The readout of the given rows (a no-op for a readout that is the same on every row)."""
        if not self.per_row:
            return self
        rows = np.asarray(rows, dtype=np.int64)
        pick = (lambda v: v if v is None or isinstance(v, int) else v[torch.as_tensor(rows, device=v.device)]
                if isinstance(v, torch.Tensor) else v[rows])
        return Readout(pick(self.target), self.quantity, pick(self.contrast), pick(self.position))

    def without_position(self) -> "Readout":
        """The same readout for outputs already taken at its positions ((rows, n_outputs) or (rows, K, n_outputs))."""
        return Readout(self.target, self.quantity, self.contrast)

    def params(self) -> dict[str, Any]:
        """A JSON-ready description (the quantity and, when fixed, the target and contrast)."""
        out: dict[str, Any] = {"quantity": self.quantity}
        for name in ("contrast", "position"):
            if isinstance(getattr(self, name), int):
                out[name] = getattr(self, name)
        return out

    # -- application --------------------------------------------------------------------------------
    def apply(self, outputs: Any, kind: str = "logits", *, dtype: torch.dtype | None = None) -> Any:
        """The readout of ``outputs`` (rows, n_outputs), a torch tensor or numpy array, of the adapter's
        ``kind`` ("logits" or "probabilities"): shape (rows,), same type, computed in the outputs' dtype or,
        for a tensor, in ``dtype`` (a logit is gathered first and then converted, so no wide copy is made).
        With K readouts per row (2-D targets): (rows, K) from outputs (rows, K, n_outputs), or from sequence
        outputs (rows, T, n_outputs) at 2-D positions."""
        check_choice(kind, "kind", OUTPUT_KINDS, owner="Readout.apply")
        if kind == "values" and self.quantity != "value":
            raise InvalidArgumentError(
                f"The '{self.quantity}' readout needs a classifier's outputs (logits or probabilities); a regressor's "
                "real-valued outputs have no probabilities. Explain output='value' (the predicted value) instead.")
        outputs = self._at_position(outputs)
        value = self._gather(outputs, self.target, kind, dtype)
        if self.contrast is not None:
            value = value - self._gather(outputs, self.contrast, kind, dtype)
        return value

    def _at_position(self, outputs: Any) -> Any:
        """(rows, n_outputs) from sequence outputs (rows, T, n_outputs) at each row's position."""
        ndim = outputs.dim() if isinstance(outputs, torch.Tensor) else np.ndim(outputs)
        if ndim == 2 and self.position is None:
            return outputs
        if ndim == 3 and self.position is None and _ndim(self.target) == 2:
            return outputs  # (rows, K, n_outputs): already at the K positions
        if ndim != 3 or self.position is None:
            raise InvalidArgumentError(f"A Readout reads outputs of shape (rows, n_outputs), or (rows, T, n_outputs) "
                                       f"with a 'position'. Got {ndim}-D outputs "
                                       f"{'with' if self.position is not None else 'without'} a position.")
        n, length = outputs.shape[0], outputs.shape[1]
        if _ndim(self.position) == 2:  # K positions per row: (rows, K, n_outputs)
            if isinstance(outputs, torch.Tensor):
                pos = torch.as_tensor(self.position, dtype=torch.long).to(outputs.device) % length
                return outputs.gather(1, pos[..., None].expand(-1, -1, outputs.shape[-1]))
            pos = np.asarray(self.position) % length
            return np.asarray(outputs)[np.arange(n)[:, None], pos]
        if isinstance(outputs, torch.Tensor):
            pos = torch.as_tensor(self.position, dtype=torch.long).to(outputs.device).expand(n) % length
            return outputs[torch.arange(n, device=outputs.device), pos]
        pos = np.broadcast_to(np.asarray(self.position, dtype=np.int64), (n,)) % length
        return np.asarray(outputs)[np.arange(n), pos]

    def _gather(self, outputs: Any, index: Any, kind: str, dtype: torch.dtype | None) -> Any:
        if isinstance(outputs, torch.Tensor):
            return _gather_torch(outputs, index, self.quantity, kind, dtype)
        return _gather_numpy(np.asarray(outputs), index, self.quantity, kind)


def _gather_numpy(raw: np.ndarray, index: Any, quantity: str, kind: str) -> np.ndarray:
    index = index.cpu().numpy() if isinstance(index, torch.Tensor) else index
    if raw.ndim == 3:  # (rows, K, n_outputs) with (rows, K) indices: each of the K readouts as a row of its own
        n, k = raw.shape[:2]
        return _gather_numpy(raw.reshape(n * k, -1), np.broadcast_to(index, (n, k)).reshape(-1), quantity,
                             kind).reshape(n, k)
    rows = np.arange(len(raw))
    if quantity == "value":
        return raw[rows, index]
    if quantity == "probability":
        probs = softmax(raw) if kind == "logits" else raw
        return probs[rows, index]
    if kind == "logits":
        if quantity == "logit":
            return raw[rows, index]
        z = raw - raw.max(axis=-1, keepdims=True)
        return z[rows, index] - np.log(np.exp(z).sum(axis=-1))
    return np.log(np.clip(raw[rows, index], 1e-12, None))  # log-probability: a logit up to a constant


def _gather_torch(raw: torch.Tensor, index: Any, quantity: str, kind: str, dtype: torch.dtype | None
                  ) -> torch.Tensor:
    idx = torch.as_tensor(index, dtype=torch.long).to(raw.device)
    if raw.dim() == 3:  # (rows, K, n_outputs) with (rows, K) indices
        n, k = raw.shape[:2]
        return _gather_torch(raw.reshape(n * k, -1), idx.expand(n, k).reshape(-1), quantity, kind, dtype).view(n, k)
    idx = idx.expand(raw.shape[0]) if idx.dim() == 0 else idx
    if quantity == "value" or (quantity == "logit" and kind == "logits"):
        value = raw.gather(1, idx[:, None]).squeeze(1)
        return value if dtype is None else value.to(dtype)
    raw = raw if dtype is None else raw.to(dtype)
    if quantity == "probability":
        raw = torch.softmax(raw, dim=-1) if kind == "logits" else raw
    elif kind == "logits":
        raw = raw if quantity == "logit" else torch.log_softmax(raw, dim=-1)
    else:
        raw = torch.log(raw.clamp_min(1e-12))
    return raw.gather(1, idx[:, None]).squeeze(1)
