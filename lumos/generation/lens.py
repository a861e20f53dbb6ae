"""The logit lens: what a decoder would predict if it stopped after each layer.

The residual stream after block ``l`` is read out with the model's own final norm and language-model head
(:meth:`~lumos.models.causal_lm.CausalLMAdapter.unembed`), as if the blocks above ``l`` were skipped. Per
layer and position, the lens keeps the top-k tokens and the rank and probability of the token that finally
comes next: the next token of the sequence, or at the last position the model's own greedy choice. The last
layer's readout is the model's output distribution itself.

Only the top-k per (layer, position) is kept; the vocabulary-sized distribution is computed one layer at a
time (T x V numbers at once, never L x T x V).

References
----------
nostalgebraist. interpreting GPT: the logit lens. LessWrong, 2020.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..errors import InvalidArgumentError, check_int
from ..models.sites import capture
from ..sequences import Generation
from ._common import causal_lm, indices, sequence

__all__ = ["LogitLens", "logit_lens"]

FORMAT = "lumos.logit_lens/1"

#: Positions read out at once: bounds the (positions x vocabulary) float64 distribution a layer needs (256 x
#: 49,152 x 8 bytes = 100 MB) for prompts of any length.
POSITIONS_PER_READ = 256


@dataclass(frozen=True, eq=False)
class LogitLens:
    """The logit lens of one token sequence (see :func:`logit_lens`).

    Attributes
    ----------
    model : str
        The model's name.
    ids, tokens : tuple
        The sequence's token ids and texts (T).
    n_prompt : int
        How many of them are the prompt's.
    layers : tuple of int
        The layers read, 0 being the embeddings (the residual stream entering block 0) and ``l`` the output
        of block ``l - 1``; ``n_layers`` is the model's last block.
    layer_names : tuple of str
        Their site names (``embeddings``, ``layers.0.output``, ...).
    target_ids, target_tokens : tuple (T)
        The token that finally comes next at each position: the next token of the sequence; at the last
        position the model's greedy choice.
    top_ids, top_tokens : ndarray (L, T, k)
        The k most probable tokens when reading layer ``layers[i]`` at each position, most probable first.
    top_probs : ndarray (L, T, k)
        Their probabilities.
    target_rank : ndarray of int (L, T)
        The rank of the target token in that distribution (1: the most probable).
    target_prob : ndarray (L, T)
        Its probability.
    seconds : float
        Wall time.
    """

    model: str
    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    n_prompt: int
    layers: tuple[int, ...]
    layer_names: tuple[str, ...]
    target_ids: tuple[int, ...]
    target_tokens: tuple[str, ...]
    top_ids: np.ndarray
    top_tokens: np.ndarray
    top_probs: np.ndarray
    target_rank: np.ndarray
    target_prob: np.ndarray
    seconds: float = field(default=0.0)

    @property
    def k(self) -> int:
        return int(self.top_ids.shape[-1])

    def first_layer(self, position: int = -1) -> int | None:
        """The first layer from which on the target token at ``position`` stays the top-1 prediction, or
        None where the last layer does not predict it either."""
        top1 = self.target_rank[:, position] == 1
        if not top1[-1]:
            return None
        below = np.flatnonzero(~top1)
        return self.layers[below[-1] + 1] if below.size else self.layers[0]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (lists and numbers); :meth:`from_dict` reads it back."""
        return {"format": FORMAT, "model": self.model, "ids": list(self.ids), "tokens": list(self.tokens),
                "n_prompt": self.n_prompt, "layers": list(self.layers), "layer_names": list(self.layer_names),
                "target_ids": list(self.target_ids), "target_tokens": list(self.target_tokens),
                "top_ids": self.top_ids.tolist(), "top_tokens": self.top_tokens.tolist(),
                "top_probs": self.top_probs.tolist(), "target_rank": self.target_rank.tolist(),
                "target_prob": self.target_prob.tolist(), "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LogitLens":
        if data.get("format") != FORMAT:
            raise InvalidArgumentError(f"The 'data' parameter of LogitLens.from_dict must be a dict written by "
                                       f"LogitLens.to_dict (format {FORMAT!r}). Got format {data.get('format')!r}.")
        k = len(data["top_ids"][0][0]) if data["top_ids"] and data["top_ids"][0] else 0
        shape = (len(data["layers"]), len(data["ids"]), k)
        return cls(model=data["model"], ids=tuple(data["ids"]), tokens=tuple(data["tokens"]),
                   n_prompt=int(data["n_prompt"]), layers=tuple(data["layers"]),
                   layer_names=tuple(data["layer_names"]), target_ids=tuple(data["target_ids"]),
                   target_tokens=tuple(data["target_tokens"]),
                   top_ids=np.asarray(data["top_ids"], dtype=np.int64).reshape(shape),
                   top_tokens=np.asarray(data["top_tokens"], dtype=object).reshape(shape),
                   top_probs=np.asarray(data["top_probs"], dtype=np.float64).reshape(shape),
                   target_rank=np.asarray(data["target_rank"], dtype=np.int64).reshape(shape[:2]),
                   target_prob=np.asarray(data["target_prob"], dtype=np.float64).reshape(shape[:2]),
                   seconds=float(data.get("seconds", 0.0)))


def logit_lens(model: Any, inputs: str | Generation, *, k: int = 5,
               layers: int | Sequence[int] | None = None) -> LogitLens:
    """Read every layer's residual stream as the model's next-token distribution.

    Parameters
    ----------
    model : CausalLMAdapter, zoo name or model directory
        A causal language model (``lumos.load_model("smollm2-135m")``).
    inputs : str or Generation
        A prompt (its tokens alone), or a prompt with its continuation.
    k : int, default 5
        Tokens kept per layer and position.
    layers : int, sequence of int or None
        Layers to read: 0 is the embeddings, ``l`` the output of block ``l - 1``, negative from the end
        (-1: the last block, whose readout is the model's output). None: all ``n_layers + 1``.

    Returns
    -------
    LogitLens

    Cost: one forward pass, and the final norm and language-model head once per layer read.

    Examples
    --------
    >>> lens = logit_lens(lumos.load_model("smollm2-135m"), "The capital of France is")   # doctest: +SKIP
    >>> lens.top_tokens[:, -1, 0]                                                          # doctest: +SKIP
    """
    owner = "logit_lens"
    lm = causal_lm(model, owner)
    g = sequence(lm, inputs, owner)
    k = check_int(k, "k", owner=owner, minimum=1, maximum=lm.vocab_size)
    n_layers = lm.n_layers
    chosen = indices(layers, "layers", n_layers + 1, owner, what="layers")
    names = tuple("embeddings" if layer == 0 else f"layers.{layer - 1}.output" for layer in chosen)
    start = time.perf_counter()
    ids = torch.tensor([g.ids], device=lm.device)
    n = len(g.ids)
    with capture(lm, list(names)) as cap, torch.inference_mode():
        own = lm.run({"input_ids": ids}, positions=torch.tensor([n - 1], device=lm.device))[0, -1]  # (V,)
        states = {name: cap[name][0] for name in names}  # (T, D) each
    targets = torch.tensor([*g.ids[1:], int(own.argmax())], device=lm.device)  # (T,)
    top_ids = np.empty((len(chosen), n, k), dtype=np.int64)
    top_probs = np.empty((len(chosen), n, k), dtype=np.float64)
    rank = np.empty((len(chosen), n), dtype=np.int64)
    prob = np.empty((len(chosen), n), dtype=np.float64)
    with torch.inference_mode():
        for i, name in enumerate(names):
            for lo in range(0, n, POSITIONS_PER_READ):
                at = slice(lo, lo + POSITIONS_PER_READ)
                logits = lm.unembed(states[name][at])  # (t, V): one layer, a bounded number of positions
                logp = torch.log_softmax(logits.double(), dim=-1)
                values, where = logp.topk(k, dim=-1)
                target = targets[at, None]  # (t, 1)
                rank[i, at] = ((logits > logits.gather(1, target)).sum(-1) + 1).cpu().numpy()
                prob[i, at] = logp.gather(1, target)[:, 0].exp().cpu().numpy()
                top_ids[i, at] = where.cpu().numpy()
                top_probs[i, at] = values.exp().cpu().numpy()
    texts = {int(t): lm.token_text(int(t)) for t in np.unique(np.concatenate([top_ids.ravel(), targets.cpu().numpy()]))}
    top_tokens = np.vectorize(texts.__getitem__, otypes=[object])(top_ids)
    target_ids = tuple(int(t) for t in targets.tolist())
    return LogitLens(model=lm.name, ids=tuple(g.ids), tokens=tuple(g.tokens), n_prompt=g.n_prompt, layers=chosen,
                     layer_names=names, target_ids=target_ids, target_tokens=tuple(texts[t] for t in target_ids),
                     top_ids=top_ids, top_tokens=top_tokens, top_probs=top_probs, target_rank=rank,
                     target_prob=prob, seconds=time.perf_counter() - start)
