"""What the logit lens and causal tracing share: the causal-LM adapter, a prompt's token ids, and index lists
(layers, positions) checked against their range."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError, InvalidTypeError
from ..models import as_adapter
from ..sequences import Generation


def causal_lm(model: Any, owner: str) -> Any:
    """The causal-LM adapter of ``model`` (an adapter, a zoo name, a model directory), or a clear error."""
    return as_adapter(model).require(owner, module=True, layers=True, task="causal_lm")


def sequence(lm: Any, inputs: Any, owner: str) -> Generation:
    """A prompt (str) as a Generation of its tokens alone (nothing generated), or a Generation as it is."""
    if isinstance(inputs, Generation):
        if not inputs.ids:
            raise InvalidArgumentError(f"The 'inputs' parameter of {owner} is a Generation without tokens.")
        return inputs
    if not isinstance(inputs, str):
        raise InvalidTypeError(f"The 'inputs' parameter of {owner} must be a prompt (str) or a lumos Generation. "
                               f"Got {type(inputs).__name__}.")
    ids = lm.encode_prompt(inputs)
    return Generation(prompt=inputs, ids=tuple(ids), n_prompt=len(ids),
                      tokens=tuple(lm.token_text(i) for i in ids))


def indices(value: Any, name: str, size: int, owner: str, *, what: str) -> tuple[int, ...]:
    """``value`` (None: all; an int or a sequence of ints, negative counting from the end) as sorted distinct
    indices in ``range(size)``."""
    if value is None:
        return tuple(range(size))
    items = [value] if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not items:
        raise InvalidTypeError(f"The {name!r} parameter of {owner} must be None, an int or a non-empty sequence "
                               f"of ints ({what} 0..{size - 1}, negative from the end). Got {value!r}.")
    out = set()
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
            raise InvalidTypeError(f"The {name!r} parameter of {owner} must hold ints. Got {item!r}.")
        if not -size <= int(item) < size:
            raise InvalidArgumentError(f"The {name!r} parameter of {owner} must hold {what} in [{-size}, {size - 1}] "
                                       f"(there are {size}). Got {int(item)}.")
        out.add(int(item) % size)
    return tuple(sorted(out))
