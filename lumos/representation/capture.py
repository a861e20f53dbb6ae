"""Activations of a dataset at named sites.

The sites and the hook mechanism live in :mod:`lumos.models.sites` (re-exported here): a *site* is a name for
one intermediate value of a model (``layers.3.output``, ``layers.3.attention.probs``, ``embeddings`` or
any module path), and hooks exist only inside :func:`capture`'s ``with`` block. :func:`collect` runs a text
dataset through an adapter and reduces each site on the fly (mean over real tokens, the first token, ...),
or streams every token to disk, so memory stays bounded by one batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..engine import batches_by_size, track
from ..errors import InvalidArgumentError, UnknownNameError, check_choice, check_int
from ..models import as_adapter
from ..models.sites import Capture, Site, capture, n_layers, resolve_sites, sites

__all__ = ["Site", "sites", "resolve_sites", "n_layers", "capture", "Capture", "collect", "Activations", "REDUCERS"]


# -- datasets ---------------------------------------------------------------------------------------------
def _mean(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask[:, : value.shape[1], None].to(value.dtype)
    return (value * m).sum(1) / m.sum(1).clamp_min(1.0)


def _max(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask[:, : value.shape[1], None].bool()
    return value.masked_fill(~m, float("-inf")).amax(1)


#: Reductions of a (B, T, D) site to (B, D), given the attention mask (B, T).
REDUCERS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mean": _mean,
    "max": _max,
    "first": lambda value, mask: value[:, 0],
}


@dataclass(frozen=True)
class Activations:
    """Activations of a dataset at named sites.

    Attributes
    ----------
    values : dict of site name to ndarray
        Reduced: (n_examples, D) per site. With ``reduce="tokens"``: (n_tokens, D) per site, memory-mapped
        from ``directory``, with ``offsets`` (n_examples + 1,) giving each example's rows.
    reduce : str
    offsets : ndarray or None
    directory : Path or None
    """

    values: dict[str, np.ndarray]
    reduce: str
    offsets: np.ndarray | None = None
    directory: Path | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.values:
            raise UnknownNameError(f"No site {name!r} among the activations. Sites: {', '.join(self.values)}.")
        return self.values[name]

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(self.values)

    def example(self, name: str, i: int) -> np.ndarray:
        """The token rows of example ``i`` at site ``name`` (``reduce="tokens"`` only)."""
        if self.offsets is None:
            raise InvalidArgumentError("Activations.example needs per-token activations (reduce='tokens').")
        return self[name][self.offsets[i]:self.offsets[i + 1]]


def collect(model: Any, texts: Sequence[str], names: str | Sequence[str] | None = None, *,
            reduce: str = "mean", batch_size: int = 64, directory: str | Path | None = None,
            progress: bool | None = None) -> Activations:
    """Run texts through a text adapter and keep each site's activations, reduced on the fly.

    Parameters
    ----------
    model : TransformersAdapter or zoo name
    texts : sequence of str
    names : site names or patterns, default every block's output (and the embeddings)
        Sites of shape (B, T, D); attention weights are not collected here.
    reduce : {"mean", "max", "first", "tokens"}, default "mean"
        ``"mean"``/``"max"`` over real tokens (padding excluded, special tokens included, as the zoo model
        pools), ``"first"`` the first token ([CLS]), ``"tokens"`` every real token, streamed to ``.npy``
        files in ``directory`` (required) and returned memory-mapped.
    batch_size : int, default 64
    directory : path, optional
        Where ``reduce="tokens"`` writes ``<site>.npy`` and ``offsets.npy``.
    progress : bool or None

    Memory is bounded by one batch of activations plus the reduced outputs (n_examples x D per site).
    """
    adapter = as_adapter(model).require("collect", modality="text", module=True)
    reduce = check_choice(reduce, "reduce", (*REDUCERS, "tokens"), owner="collect")
    batch_size = check_int(batch_size, "batch_size", owner="collect", minimum=1)
    texts, _ = adapter.split_inputs(list(texts))
    chosen = resolve_sites(adapter, names)
    bad = [s.name for s in chosen if s.index not in (None, 0)]
    if bad:
        raise InvalidArgumentError(f"The 'names' parameter of collect must name hidden-state sites "
                                   f"(batch, tokens, features); {', '.join(bad)} are not.")
    if reduce == "tokens":
        if directory is None:
            raise InvalidArgumentError("The 'directory' parameter of collect is required with reduce='tokens' "
                                       "(every token is streamed to disk there).")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
    reduced: dict[str, np.ndarray] = {}
    lengths = np.zeros(len(texts), dtype=np.int64)
    spool: dict[str, Any] = {}  # tokens: open files of raw float32 rows, in batch order
    token_rows: list[tuple[int, int]] = []  # (example index, n_tokens) in written order
    try:
        with capture(adapter, [s.name for s in chosen]) as cap, torch.inference_mode():
            for idx in track(list(batches_by_size(texts, batch_size)), description="collect", enabled=progress):
                inputs = adapter.model_inputs([texts[i] for i in idx])
                mask = inputs["attention_mask"]
                adapter.run(inputs)
                for site in chosen:
                    value = cap[site.name].float()  # (B, T, D)
                    if value.dim() != 3:
                        raise InvalidArgumentError(f"Site {site.name!r} has shape {tuple(value.shape)}, not "
                                                   "(batch, tokens, features).")
                    if reduce == "tokens":
                        f = spool.get(site.name)
                        if f is None:
                            f = spool[site.name] = open(directory / f"{_file(site.name)}.raw", "wb")
                        for row, i in enumerate(idx):
                            n = int(mask[row].sum())
                            f.write(value[row, :n].cpu().numpy().tobytes())
                    else:
                        out = reduced.get(site.name)
                        if out is None:
                            out = reduced[site.name] = np.empty((len(texts), value.shape[-1]), np.float32)
                        out[idx] = REDUCERS[reduce](value, mask).cpu().numpy()
                if reduce == "tokens":
                    for row, i in enumerate(idx):
                        token_rows.append((i, int(mask[row].sum())))
                cap.clear()
    finally:
        for f in spool.values():
            f.close()
    if reduce != "tokens":
        return Activations({s.name: reduced[s.name] for s in chosen}, reduce)
    return _finish_tokens(directory, chosen, token_rows, len(texts))


def _file(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _finish_tokens(directory: Path, chosen: Sequence[Site], token_rows: list[tuple[int, int]], n: int
                   ) -> Activations:
    """Reorder the spooled rows into the caller's example order, one ``.npy`` per site, memory-mapped."""
    counts = np.zeros(n, dtype=np.int64)
    for i, k in token_rows:
        counts[i] = k
    offsets = np.concatenate([[0], np.cumsum(counts)])
    written = np.concatenate([[0], np.cumsum([k for _, k in token_rows])])
    values = {}
    for site in chosen:
        raw_path = directory / f"{_file(site.name)}.raw"
        total = int(written[-1])
        width = raw_path.stat().st_size // (4 * max(total, 1))
        raw = np.memmap(raw_path, dtype=np.float32, mode="r", shape=(total, width))
        path = directory / f"{_file(site.name)}.npy"
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(total, width))
        for (i, k), w in zip(token_rows, written[:-1]):
            out[offsets[i]:offsets[i] + k] = raw[w:w + k]
        out.flush()
        del out, raw
        raw_path.unlink()
        values[site.name] = np.load(path, mmap_mode="r")
    np.save(directory / "offsets.npy", offsets)
    return Activations(values, "tokens", offsets=offsets, directory=directory)
