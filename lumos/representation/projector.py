"""Hidden states for TensorBoard's embedding projector, written by ``torch.utils.tensorboard`` (``add_embedding``):
one embedding per site, with a metadata table (text, label) so that points can be searched and coloured."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InvalidArgumentError
from .capture import Activations

__all__ = ["to_tensorboard"]


def _cell(value: Any) -> str:
    """One metadata cell: TensorBoard's metadata is tab-separated lines, so tabs and line breaks become spaces."""
    return " ".join(str(value).split()) or " "


def to_tensorboard(activations: Any, directory: str | Path, *, metadata: Mapping[str, Sequence[Any]] | None = None,
                   sites: Sequence[str] | None = None) -> Path:
    """Write activations (one row per example) to ``directory`` for TensorBoard's projector
    (``tensorboard --logdir DIRECTORY``, Projector tab).

    Parameters
    ----------
    activations : Activations or dict of site name to ndarray (n_examples, D)
        Reduced activations (:func:`~lumos.representation.collect` with ``reduce`` "mean", "max" or "first").
    directory : path
        Created if missing; one embedding per site is added, tagged with the site's name.
    metadata : dict of column name to sequence, optional
        Per-example columns (e.g. ``{"text": texts, "label": labels}``), each of length n_examples.
    sites : sequence of str, optional
        The sites written; default all.

    Returns
    -------
    Path of the directory.
    """
    from torch.utils.tensorboard import SummaryWriter

    values = dict(activations.values) if isinstance(activations, Activations) else dict(activations)
    chosen = list(values) if sites is None else list(sites)
    missing = [s for s in chosen if s not in values]
    if not chosen or missing:
        raise InvalidArgumentError(f"The 'sites' of to_tensorboard must name collected sites ({', '.join(values)}). "
                                   f"Got {missing or chosen}.")
    n = {np.asarray(values[s]).shape[0] for s in chosen}
    if len(n) != 1 or any(np.asarray(values[s]).ndim != 2 for s in chosen):
        raise InvalidArgumentError("to_tensorboard needs one row per example at every site (reduced activations, "
                                   "shape (n_examples, D)); per-token activations are not accepted.")
    (count,) = n
    columns = dict(metadata or {})
    for name, column in columns.items():
        if len(column) != count:
            raise InvalidArgumentError(f"The metadata column {name!r} of to_tensorboard must have one entry per "
                                       f"example ({count}). Got {len(column)}.")
    rows = [[_cell(columns[c][i]) for c in columns] for i in range(count)] if columns else None
    meta = [r[0] for r in rows] if rows and len(columns) == 1 else rows
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InvalidArgumentError(f"The TensorBoard directory {str(directory)!r} is a file; give a directory.")
    directory.mkdir(parents=True, exist_ok=True)
    with SummaryWriter(log_dir=str(directory)) as writer:
        for site in chosen:
            writer.add_embedding(np.asarray(values[site], dtype=np.float32), metadata=meta,
                                 metadata_header=list(columns) if len(columns) > 1 else None, tag=site)
    return directory
