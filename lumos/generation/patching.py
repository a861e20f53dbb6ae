"""Activation patching / causal tracing: which hidden states carry the answer.

Three runs of the model on a prompt: the *clean* run, a *corrupted* run (the embeddings of some prompt words
get Gaussian noise, or a second prompt of the same token length replaces the prompt), and *patched* runs:
the corrupted run with one hidden state (one layer's residual stream, attention output or MLP output at one
position) restored to its value in the clean run. Where restoring one state brings the probability of the
answer back, that state carries what the corruption destroyed.

Every patched run is one row of a batch: the (layer, position) cells and the noise samples are packed into
forward passes of ``batch_size`` rows, each row patched at its own cell through :func:`lumos.models.sites.
capture`'s ``edit`` (the one hook mechanism), and the language-model head runs on the last position only.

References
----------
Meng, Bau, Andonian, Belinkov. Locating and Editing Factual Associations in GPT. NeurIPS 2022.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..engine import track
from ..errors import InvalidArgumentError, InvalidTypeError, check_choice, check_float, check_int
from ..models.sites import capture
from ..sequences import Generation
from ._common import causal_lm, indices, sequence

__all__ = ["CausalTrace", "causal_trace", "SITES"]

FORMAT = "lumos.causal_trace/1"

#: What can be restored, as the site of layer ``i``.
SITES = {"residual": "layers.{}.output", "attention": "layers.{}.attention.output", "mlp": "layers.{}.mlp.output"}


@dataclass(frozen=True, eq=False)
class CausalTrace:
    """The result of :func:`causal_trace`.

    Attributes
    ----------
    model, prompt : str
    ids, tokens : tuple (T)
        The clean sequence's token ids and texts.
    target_id, target_token
        The answer whose probability is traced (at the last position).
    site : {"residual", "attention", "mlp"}
    window : int
        Layers restored together around each layer (1: that layer alone).
    layers, positions : tuple of int
        The heatmap's rows (block indices) and columns (token positions).
    corrupted_positions : tuple of int
        The positions whose input was corrupted (noised, or different in the corrupt prompt).
    corruption : {"noise", "prompt"}
    corrupt_words : tuple of str
        The words that were noised (empty for a corrupt prompt).
    corrupt_prompt : str or None
    noise : float
        The noise's standard deviation as a multiple of the embeddings' (0 for a corrupt prompt).
    n_samples, seed : int
        Noise samples averaged (1 for a corrupt prompt) and their seed.
    p_clean, p_corrupt : float
        The target's probability in the clean run and in the corrupted run (mean over samples).
    probs : ndarray (len(layers), len(positions))
        The target's probability with that layer's state at that position restored (mean over samples).
        Positions before the first corrupted one have the same state in both runs, so restoring them changes
        nothing: those cells are ``p_corrupt`` without a run.
    layer_probs : ndarray (len(layers),)
        The target's probability with the layer's state restored at every position (for the residual stream
        that is the clean run from that layer on: ``p_clean``).
    n_rows, n_passes : int
        Sequences run (patched and corrupted rows) and forward passes.
    seconds : float
    """

    model: str
    prompt: str
    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    target_id: int
    target_token: str
    site: str
    window: int
    layers: tuple[int, ...]
    positions: tuple[int, ...]
    corrupted_positions: tuple[int, ...]
    corruption: str
    corrupt_words: tuple[str, ...]
    corrupt_prompt: str | None
    noise: float
    n_samples: int
    seed: int
    p_clean: float
    p_corrupt: float
    probs: np.ndarray
    layer_probs: np.ndarray
    n_rows: int = 0
    n_passes: int = 0
    seconds: float = 0.0

    @property
    def recovery(self) -> np.ndarray:
        """``(probs - p_corrupt) / (p_clean - p_corrupt)`` (len(layers), len(positions)): 1 where restoring the
        state brings the clean probability back, 0 where it changes nothing; NaN where the corruption did not
        change the probability."""
        return self._recover(self.probs)

    @property
    def layer_recovery(self) -> np.ndarray:
        """The recovery of :attr:`layer_probs` (len(layers),)."""
        return self._recover(self.layer_probs)

    def _recover(self, probs: np.ndarray) -> np.ndarray:
        gap = self.p_clean - self.p_corrupt
        return (probs - self.p_corrupt) / gap if gap != 0 else np.full_like(probs, np.nan)

    def strongest(self, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` cells with the highest restored probability, highest first: layer, position, token,
        probability and recovery."""
        n = check_int(n, "n", owner="CausalTrace.strongest", minimum=1)
        order = np.argsort(-self.probs, axis=None, kind="stable")[:n]
        recovery = self.recovery
        out = []
        for flat in order:
            i, j = np.unravel_index(flat, self.probs.shape)
            out.append({"layer": self.layers[i], "position": self.positions[j],
                        "token": self.tokens[self.positions[j]], "prob": float(self.probs[i, j]),
                        "recovery": float(recovery[i, j])})
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (lists and numbers; NaN recovery as None); :meth:`from_dict` reads it back."""
        def nan_none(a: np.ndarray) -> list:
            return [None if math.isnan(x) else x for x in a.ravel().tolist()] if a.ndim == 1 else \
                [nan_none(row) for row in a]

        return {"format": FORMAT, "model": self.model, "prompt": self.prompt, "ids": list(self.ids),
                "tokens": list(self.tokens), "target_id": self.target_id, "target_token": self.target_token,
                "site": self.site, "window": self.window, "layers": list(self.layers),
                "positions": list(self.positions), "corrupted_positions": list(self.corrupted_positions),
                "corruption": self.corruption, "corrupt_words": list(self.corrupt_words),
                "corrupt_prompt": self.corrupt_prompt, "noise": self.noise, "n_samples": self.n_samples,
                "seed": self.seed, "p_clean": self.p_clean, "p_corrupt": self.p_corrupt,
                "probs": self.probs.tolist(), "layer_probs": self.layer_probs.tolist(),
                "recovery": nan_none(self.recovery), "layer_recovery": nan_none(self.layer_recovery),
                "n_rows": self.n_rows, "n_passes": self.n_passes, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CausalTrace":
        if data.get("format") != FORMAT:
            raise InvalidArgumentError(f"The 'data' parameter of CausalTrace.from_dict must be a dict written by "
                                       f"CausalTrace.to_dict (format {FORMAT!r}). Got format {data.get('format')!r}.")
        shape = (len(data["layers"]), len(data["positions"]))
        return cls(model=data["model"], prompt=data["prompt"], ids=tuple(data["ids"]), tokens=tuple(data["tokens"]),
                   target_id=int(data["target_id"]), target_token=data["target_token"], site=data["site"],
                   window=int(data["window"]), layers=tuple(data["layers"]), positions=tuple(data["positions"]),
                   corrupted_positions=tuple(data["corrupted_positions"]), corruption=data["corruption"],
                   corrupt_words=tuple(data["corrupt_words"]), corrupt_prompt=data["corrupt_prompt"],
                   noise=float(data["noise"]), n_samples=int(data["n_samples"]), seed=int(data["seed"]),
                   p_clean=float(data["p_clean"]), p_corrupt=float(data["p_corrupt"]),
                   probs=np.asarray(data["probs"], dtype=np.float64).reshape(shape),
                   layer_probs=np.asarray(data["layer_probs"], dtype=np.float64).reshape(shape[:1]),
                   n_rows=int(data.get("n_rows", 0)), n_passes=int(data.get("n_passes", 0)),
                   seconds=float(data.get("seconds", 0.0)))


def causal_trace(model: Any, prompt: str | Generation, *, target: str | int | None = None,
                 corrupt: str | Sequence[str] | None = None, corrupt_prompt: str | None = None,
                 site: str = "residual", layers: int | Sequence[int] | None = None,
                 positions: int | Sequence[int] | None = None, window: int = 1, n_samples: int = 10,
                 noise: float = 3.0, seed: int = 0, batch_size: int = 32, progress: bool | None = None
                 ) -> CausalTrace:
    """Trace which hidden states carry the model's answer to ``prompt`` (causal tracing).

    Parameters
    ----------
    model : CausalLMAdapter, zoo name or model directory
    prompt : str or Generation
        The clean input; the answer is read at its last position.
    target : str, int or None
        The answer: one token, as text (``" Paris"``) or id. None: the clean run's greedy next token.
    corrupt : str or sequence of str, optional
        Words (or phrases) of the prompt whose token embeddings get Gaussian noise of standard deviation
        ``noise`` times the embeddings' (every occurrence, matched as whole words).
    corrupt_prompt : str, optional
        Instead of noise: a second prompt with the same number of tokens (e.g. another subject), whose run is
        the corrupted run. Give exactly one of ``corrupt`` and ``corrupt_prompt``.
    site : {"residual", "attention", "mlp"}, default "residual"
        What is restored: the residual stream after the block, or the attention / MLP sublayer's output.
    layers, positions : int, sequence of int or None
        The blocks and token positions of the heatmap (negative from the end). None: all.
    window : int, default 1
        Restore this many consecutive layers around each layer together (Meng et al. use 10 for attention
        and MLP, whose single layers rarely carry a fact alone).
    n_samples : int, default 10
        Noise samples, averaged (a corrupt prompt needs one).
    noise : float, default 3.0
    seed : int, default 0
        Seeds the noise (a generator of its own; global random state is not touched).
    batch_size : int, default 32
        Rows (patched sequences) per forward pass.
    progress : bool or None

    Returns
    -------
    CausalTrace

    Cost: ``(len(layers) x (positions from the first corrupted one on) + len(layers) + 1) x n_samples``
    sequences, in passes of ``batch_size``, plus one clean pass.

    Examples
    --------
    >>> trace = causal_trace(lumos.load_model("smollm2-135m"), "The Eiffel Tower is in the city of",
    ...                      corrupt="Eiffel Tower")                                         # doctest: +SKIP
    >>> trace.strongest(3)                                                                   # doctest: +SKIP
    """
    owner = "causal_trace"
    start = time.perf_counter()
    lm = causal_lm(model, owner)
    site = check_choice(site, "site", tuple(SITES), owner=owner)
    g = sequence(lm, prompt, owner)
    n, n_layers = len(g.ids), lm.n_layers
    chosen_layers = indices(layers, "layers", n_layers, owner, what="layers")
    chosen_positions = indices(positions, "positions", n, owner, what="positions")
    window = check_int(window, "window", owner=owner, minimum=1, maximum=n_layers)
    n_samples = check_int(n_samples, "n_samples", owner=owner, minimum=1)
    noise = check_float(noise, "noise", owner=owner, minimum=0.0, exclusive_minimum=True)
    seed = check_int(seed, "seed", owner=owner, minimum=0)
    batch_size = check_int(batch_size, "batch_size", owner=owner, minimum=1)
    target_id = None if target is None else lm.token_id(target, name="target", owner=owner)

    clean = lm.encode([g]).x[0]  # (T, D)
    if (corrupt is None) == (corrupt_prompt is None):
        raise InvalidArgumentError(f"Give {owner} exactly one of 'corrupt' (prompt words to noise) and "
                                   f"'corrupt_prompt' (a second prompt of {n} tokens). Got "
                                   f"{'both' if corrupt is not None else 'neither'}.")
    if corrupt is not None:
        words = (corrupt,) if isinstance(corrupt, str) else tuple(corrupt) if isinstance(corrupt, Sequence) else None
        if not words or not all(isinstance(w, str) and w.strip() for w in words):
            raise InvalidTypeError(f"The 'corrupt' parameter of {owner} must be a word of the prompt or a non-empty "
                                   f"sequence of them (non-empty str). Got {corrupt!r}.")
        corrupted = _word_positions(lm, g, words, owner)
        table = lm.embeddings.weight
        scale = noise * float(table.detach().float().std())
        # The same noise for every cell: the cells differ by what is restored, not by what was destroyed.
        z = torch.randn((n_samples, len(corrupted), clean.shape[-1]), generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float32).to(device=clean.device, dtype=clean.dtype)
        bases = clean.expand(n_samples, -1, -1).clone()  # (S, T, D)
        bases[:, list(corrupted)] += scale * z
        mode, other = "noise", None
    else:
        if not isinstance(corrupt_prompt, str):
            raise InvalidTypeError(f"The 'corrupt_prompt' parameter of {owner} must be a str. "
                                   f"Got {type(corrupt_prompt).__name__}.")
        other_ids = lm.encode_prompt(corrupt_prompt, chat=g.chat) + list(g.generated_ids)
        if len(other_ids) != n:
            raise InvalidArgumentError(
                f"The 'corrupt_prompt' parameter of {owner} must have as many tokens as the prompt ({g.n_prompt}); "
                f"{corrupt_prompt!r} has {len(other_ids) - g.n_generated}: "
                f"{[lm.token_text(i) for i in other_ids[:len(other_ids) - g.n_generated]]}.")
        corrupted = tuple(i for i in range(n) if other_ids[i] != g.ids[i])
        if not corrupted:
            raise InvalidArgumentError(f"The 'corrupt_prompt' parameter of {owner} has the same tokens as the "
                                       f"prompt, so nothing is corrupted. Got {corrupt_prompt!r}.")
        other = Generation(prompt=corrupt_prompt, ids=tuple(other_ids), n_prompt=g.n_prompt,
                           tokens=tuple(lm.token_text(i) for i in other_ids), chat=g.chat)
        bases = lm.encode([other]).x  # (1, T, D)
        mode, noise, n_samples, words = "prompt", 0.0, 1, ()

    # Layers whose clean state is restored somewhere: the heatmap's, widened by the window.
    spans = {layer: tuple(range(max(0, layer - window // 2), min(n_layers, layer - window // 2 + window)))
             for layer in chosen_layers}
    needed = sorted({j for span in spans.values() for j in span})
    names = {j: SITES[site].format(j) for j in needed}
    last = torch.tensor([n - 1], device=lm.device)
    with capture(lm, list(names.values())) as cap, torch.inference_mode():
        logits = lm.run(_inputs(clean[None]), positions=last)[0, -1]
        states = {j: cap[name][0] for j, name in names.items()}  # (T, D) each
    if target_id is None:
        target_id = int(logits.argmax())
    p_clean = float(torch.softmax(logits.double(), -1)[target_id])

    # Cells: what each row restores, as {layer: positions}; cell 0 restores nothing (the corrupted run).
    first = min(corrupted)
    all_positions = tuple(range(n))
    cells: list[dict[int, tuple[int, ...]]] = [{}]
    heat = [(i, j) for i in range(len(chosen_layers)) for j, t in enumerate(chosen_positions) if t >= first]
    cells += [{layer: (chosen_positions[j],) for layer in spans[chosen_layers[i]]} for i, j in heat]
    cells += [{layer: all_positions for layer in spans[layer_i]} for layer_i in chosen_layers]
    rows = [(c, s) for c in range(len(cells)) for s in range(n_samples)]
    probs = np.empty(len(rows), dtype=np.float64)
    batches = [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
    done = 0
    for batch in track(batches, description="causal trace", enabled=progress):
        edits: dict[int, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for r, (c, _) in enumerate(batch):
            for layer, where in cells[c].items():
                edits[layer][0].extend([r] * len(where))
                edits[layer][1].extend(where)
        fns = {names[layer]: _restore(states[layer], r_idx, p_idx, lm.device) for layer, (r_idx, p_idx) in edits.items()}
        x = bases[[s for _, s in batch]]  # (B, T, D)
        with capture(lm, [], edit=fns), torch.inference_mode():
            out = lm.run(_inputs(x), positions=last)[:, -1]  # (B, V)
        probs[done:done + len(batch)] = torch.softmax(out.double(), -1)[:, target_id].cpu().numpy()
        done += len(batch)
    per_cell = probs.reshape(len(cells), n_samples).mean(1)
    p_corrupt = float(per_cell[0])
    grid = np.full((len(chosen_layers), len(chosen_positions)), p_corrupt)
    for (i, j), p in zip(heat, per_cell[1:1 + len(heat)]):
        grid[i, j] = p
    return CausalTrace(model=lm.name, prompt=g.prompt, ids=tuple(g.ids), tokens=tuple(g.tokens), target_id=target_id,
                       target_token=lm.token_text(target_id), site=site, window=window, layers=chosen_layers,
                       positions=chosen_positions, corrupted_positions=tuple(corrupted), corruption=mode,
                       corrupt_words=tuple(words), corrupt_prompt=corrupt_prompt if mode == "prompt" else None,
                       noise=noise, n_samples=n_samples, seed=seed, p_clean=p_clean, p_corrupt=p_corrupt,
                       probs=grid, layer_probs=per_cell[1 + len(heat):].copy(), n_rows=len(rows),
                       n_passes=len(batches) + 1, seconds=time.perf_counter() - start)


def _inputs(x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"inputs_embeds": x, "attention_mask": torch.ones(x.shape[:2], dtype=torch.long, device=x.device)}


def _restore(clean: torch.Tensor, rows: list[int], positions: list[int], device: torch.device):
    """An edit that puts the clean states (T, D) back at (row, position) pairs of a batch (B, T, D)."""
    r = torch.tensor(rows, device=device)
    p = torch.tensor(positions, device=device)

    def edit(value: torch.Tensor) -> torch.Tensor:
        value = value.clone()
        value[r, p] = clean[p].to(value.dtype)
        return value

    return edit


def _word_positions(lm: Any, g: Generation, words: Sequence[str], owner: str) -> tuple[int, ...]:
    """The token positions of every whole-word occurrence of ``words`` in the prompt."""
    encoded = lm.tokenizer(g.prompt, return_offsets_mapping=True)
    if [int(i) for i in encoded["input_ids"]] != list(g.prompt_ids):
        raise InvalidArgumentError(f"The 'corrupt' parameter of {owner} finds words in the prompt's text, which "
                                   "this prompt's tokens (a chat template?) do not follow; give 'corrupt_prompt' "
                                   "instead.")
    spans = [(a, b) for a, b in encoded["offset_mapping"]]
    out: set[int] = set()
    for word in words:
        hits = [m.span() for m in re.finditer(r"(?<!\w)" + re.escape(word.strip()) + r"(?!\w)", g.prompt)]
        if not hits:
            shown = " ".join(g.prompt.split()[:20])
            raise InvalidArgumentError(f"The 'corrupt' parameter of {owner} must name words of the prompt; "
                                       f"{word!r} is not one (prompt: {shown!r}).")
        for lo, hi in hits:
            out.update(t for t, (a, b) in enumerate(spans) if a < hi and b > lo)
    return tuple(sorted(out))
