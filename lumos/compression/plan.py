"""Compress one model by several specs with shared training texts, saving each copy: the work behind
``lumos compress``, usable without the command line.

>>> from lumos.compression.plan import compress_each
>>> models = compress_each("tweets-sentiment", ["prune:0.5", "heads:4+int8"], out="compressed")  # doctest: +SKIP
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import InvalidArgumentError, check_int
from ..models import ModelAdapter, as_adapter

__all__ = ["compress_each", "needs_training", "spec_folder"]

#: Ways of ranking heads and neurons that run the model on training texts (magnitude reads the weights only).
MEASURED = ("ablation", "activation")


def spec_folder(spec: str) -> str:
    """The directory name a spec's model is saved under: ``"heads:4+int8"`` -> ``"heads_4_int8"``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", spec)


def needs_training(specs: Sequence[str], importance: str | None = None) -> bool:
    """Whether compressing by ``specs`` needs training texts: a ``distill`` step, or heads or neurons ranked by
    a measured ``importance``."""
    from . import parse_spec

    chains = [parse_spec(spec) for spec in specs]
    return any(name == "distill" for chain in chains for name, _ in chain) or importance in MEASURED


def compress_each(model: Any, specs: Sequence[str], *, texts: Sequence[str] | None = None,
                  labels: Sequence[int] | None = None, labels_n: int | None = None, importance: str | None = None,
                  hidden_weight: float | None = None, epochs: int = 3,
                  validation: tuple[Sequence[str], Sequence[int]] | None = None, out: str | Path | None = None,
                  progress: bool | None = None,
                  echo: Callable[[str], None] | None = None) -> dict[str, ModelAdapter]:
    """Compress ``model`` by each spec (see :func:`lumos.compression.parse_spec`) and save each copy.

    Parameters
    ----------
    model : adapter or anything :func:`lumos.models.as_adapter` accepts
    specs : sequence of str
        Such as ``["prune:0.5", "heads:4+int8", "distill:3"]``.
    texts, labels : training texts and their labels, optional
        Needed where :func:`needs_training` says so: distill's training data; ``texts`` also rank heads and
        neurons under a measured ``importance``.
    labels_n : int, optional
        Keep the labels of only the first ``labels_n`` training texts; distill learns the others from the
        teacher alone (a transfer set). Default: all labelled.
    importance : {"magnitude", "ablation", "activation"}, optional
        How heads and neurons are ranked; default: each function's own (magnitude).
    hidden_weight : float, optional
        Weight of distill's hidden-state term; default: distill's own.
    epochs : int, default 3
        Training epochs of distill.
    validation : (texts, labels), optional
        Held-out data distill reports on while it trains.
    out : path, optional
        Directory that receives one model directory per spec (:func:`spec_folder`), and distill's TensorBoard
        logs under ``tensorboard/``; default: nothing is saved or logged.
    progress : bool, optional
    echo : callable, optional
        Called with a line of text as each spec starts and as each copy is saved.

    Returns
    -------
    dict
        Spec -> compressed adapter, in the order of ``specs``.
    """
    from . import compress, parse_spec, save

    chains = [parse_spec(spec) for spec in specs]  # fail on a bad spec before any work
    if needs_training(specs, importance) and texts is None:
        raise InvalidArgumentError("The 'texts' argument of compress_each is required where a spec distills or "
                                   f"heads and neurons are ranked by a measured importance ({', '.join(MEASURED)}). "
                                   f"Got specs {list(specs)!r}, importance={importance!r} and no texts.")
    if labels_n is not None:
        labels_n = check_int(labels_n, "labels_n", owner="compress_each", minimum=1)
    say = echo or (lambda line: None)
    adapter = as_adapter(model)  # once: a zoo name would otherwise be loaded again for every spec
    compressed = {}
    for spec, chain in zip(specs, chains):
        options: dict[str, Any] = {"progress": progress}
        if importance is not None and any(name in ("heads", "neurons") for name, _ in chain):
            options["importance"] = importance
            if importance in MEASURED:
                options["texts"] = list(texts)
        if any(name == "distill" for name, _ in chain):
            labelled = len(texts) if labels_n is None else labels_n
            if hidden_weight is not None:
                options["hidden_weight"] = hidden_weight
            options.update(texts=list(texts[:labelled]), labels=labels[:labelled], unlabeled=list(texts[labelled:]),
                           epochs=epochs,
                           validation=(list(validation[0]), validation[1]) if validation is not None else None,
                           log_dir=str(Path(out) / "tensorboard" / spec_folder(spec)) if out is not None else None)
        say(f"compressing: {spec}")
        compressed[spec] = compress(adapter, spec, **options)
        if out is not None:
            say(f"  saved to {save(compressed[spec], Path(out) / spec_folder(spec))}")
    return compressed
