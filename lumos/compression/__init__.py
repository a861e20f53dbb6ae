"""Compress a model and measure what it does to accuracy, size, speed and explanations.

>>> from lumos import compression
>>> small = compression.prune_magnitude("tweets-sentiment", 0.5)          # doctest: +SKIP
>>> fewer = compression.prune_heads("tweets-sentiment", 4)                 # 4 heads removed per layer  # doctest: +SKIP
>>> int8 = compression.quantize_int8("tweets-sentiment")                   # doctest: +SKIP
>>> student = compression.distill("tweets-sentiment", texts, labels, n_layers=3)   # doctest: +SKIP
>>> student = compression.distill("tweets-sentiment", texts, labels, unlabeled=more_texts)  # doctest: +SKIP
>>> compression.compare("tweets-sentiment", [small, fewer, int8], held_out, labels)  # doctest: +SKIP
>>> compression.save(int8, "int8-model"); lumos.load_model("int8-model")  # doctest: +SKIP

Every function works on a copy: the original model is never modified. Compressed models are ordinary
adapters (every lumos analysis applies to them) and record their steps in ``adapter.compression``.
:func:`compress` takes the CLI's short forms: ``prune:0.5``, ``heads:4``, ``neurons:0.5``, ``int8``,
``distill:3``, chained with ``+`` (``heads:4+int8``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import InvalidArgumentError, UnknownNameError
from ..models import ModelAdapter, as_adapter
from .compare import DEFAULT_METHODS, Comparison, MethodDrift, ModelSummary, compare, interleaved_latency, latency_ms
from .distill import distill
from .magnitude import prune_magnitude
from .plan import compress_each, needs_training, spec_folder
from .quantize import Int8Linear, quantize_int8
from .storage import is_compressed, load, save
from .structured import head_scores, neuron_scores, prune_heads, prune_neurons

__all__ = [
    "prune_magnitude", "prune_heads", "prune_neurons", "head_scores", "neuron_scores", "quantize_int8", "Int8Linear",
    "distill", "compare", "Comparison", "ModelSummary", "MethodDrift", "latency_ms", "interleaved_latency", "DEFAULT_METHODS",
    "save", "load", "is_compressed", "compress", "parse_spec", "COMPRESSORS", "compress_each", "needs_training",
    "spec_folder",
]


@dataclass(frozen=True)
class Compressor:
    """One short form of :func:`compress`: the function, the parameter its number sets, and its type."""

    function: Callable[..., ModelAdapter]
    parameter: str | None
    kind: type | None
    description: str


COMPRESSORS: dict[str, Compressor] = {
    "prune": Compressor(prune_magnitude, "sparsity", float, "prune:S  global magnitude pruning to sparsity S"),
    "heads": Compressor(prune_heads, "heads_per_layer", int, "heads:K  remove the K least important heads per layer"),
    "neurons": Compressor(prune_neurons, "fraction", float,
                          "neurons:F  remove the fraction F of feed-forward neurons per layer"),
    "int8": Compressor(quantize_int8, None, None, "int8  dynamic int8 quantization of the linear layers"),
    "distill": Compressor(distill, "n_layers", int,
                          "distill:L  a student of L blocks trained on the teacher's soft labels and hidden states"),
}


def parse_spec(spec: str) -> list[tuple[str, int | float | None]]:
    """``"heads:4+int8"`` -> ``[("heads", 4), ("int8", None)]``, with errors naming what is accepted."""
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidArgumentError(f"A compression spec must be a non-empty str such as 'prune:0.5'. Got {spec!r}.")
    steps = []
    for part in spec.split("+"):
        name, _, value = part.strip().partition(":")
        if name not in COMPRESSORS:
            raise UnknownNameError(f"The compression method {name!r} (in {spec!r}) is not one of "
                                   f"{', '.join(map(repr, COMPRESSORS))}. Forms: "
                                   f"{'; '.join(c.description for c in COMPRESSORS.values())}.")
        c = COMPRESSORS[name]
        if c.kind is None:
            if value:
                raise InvalidArgumentError(f"The compression method {name!r} takes no value. Got {part.strip()!r}.")
            steps.append((name, None))
            continue
        try:
            number = c.kind(value)
        except ValueError:
            raise InvalidArgumentError(f"The compression method {name!r} needs a{'n int' if c.kind is int else ' number'}"
                                       f" after ':' ({c.description}). Got {part.strip()!r}.") from None
        steps.append((name, number))
    if any(name == "int8" for name, _ in steps[:-1]):
        raise InvalidArgumentError(f"int8 must be the last step of {spec!r}: a quantized model cannot be pruned or "
                                   "distilled further.")
    return steps


def compress(model: Any, spec: str, **options: Any) -> ModelAdapter:
    """Apply the steps of ``spec`` (see :func:`parse_spec`) in order and return the compressed copy.

    ``options`` go to the steps that take them: ``texts`` / ``labels`` (training data of ``distill``; the
    texts also rank heads and neurons by measured effect), ``unlabeled`` (distill's transfer set),
    ``hidden_weight``, ``importance``, ``epochs``, ``validation``, ``log_dir``, ``progress``; an option no
    step takes is an error (``progress`` excepted).
    """
    adapter = as_adapter(model)
    used: set[str] = set()
    for name, value in parse_spec(spec):
        c = COMPRESSORS[name]
        accepted = inspect.signature(c.function).parameters
        kwargs = {k: v for k, v in options.items() if k in accepted}
        used |= set(kwargs)
        if c.parameter is not None:
            kwargs[c.parameter] = value
        adapter = c.function(adapter, **kwargs)
    unused = sorted(set(options) - used - {"progress"})  # progress applies where there is long work
    if unused:
        raise InvalidArgumentError(f"The options {unused} are taken by none of the steps of {spec!r}.")
    return adapter
