"""Prompt masker: hide words, sentences or tokens of a generation's prompt, keeping its continuation.

The features ("sources", as in ContextCite) are parts of the prompt the user wrote; special tokens and the
chat template's tokens are never hidden. Each masked row is the prompt with the hidden tokens removed (or
replaced by a fill token) followed by the continuation unchanged, so one teacher-forced forward of a row scores
every generated token at once. Rows carry where their continuation starts, since deleting tokens moves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, InvalidTypeError, check_choice, check_int
from ..readout import Readout
from ..sequences import Generation, group_by_words
from .base import Masker, Prepared

__all__ = ["PromptMasker", "SequenceRow"]

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n+|$)")
GRANULARITIES = ("words", "sentences", "tokens")


@dataclass(frozen=True, eq=False)
class SequenceRow:
    """One masked sequence: token ``ids`` (1-D int64) and ``n_prompt``, where the continuation starts."""

    ids: np.ndarray
    n_prompt: int

    def __len__(self) -> int:
        return len(self.ids)


class PromptMasker(Masker):
    """Mask the words (or sentences, or tokens) of a :class:`~lumos.models.Generation`'s prompt.

    Parameters
    ----------
    tokenizer : fast Hugging Face tokenizer
    granularity : {"words", "sentences", "tokens"}, default "words"
    hide : {"delete", "token"}, default "delete"
        Remove hidden tokens from the sequence (ablation), or replace each by ``fill_id``.
    fill_id : int, optional
        The token that replaces hidden ones with ``hide="token"`` (default: the pad token, else the end of
        sequence token).
    """

    def __init__(self, tokenizer: Any, *, granularity: str = "words", hide: str = "delete",
                 fill_id: int | None = None) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise InvalidTypeError("The 'tokenizer' parameter of PromptMasker must be a fast Hugging Face tokenizer. "
                                   f"Got {type(tokenizer).__name__}.")
        self.tokenizer = tokenizer
        self.granularity = check_choice(granularity, "granularity", GRANULARITIES, owner="PromptMasker")
        self.hide = check_choice(hide, "hide", ("delete", "token"), owner="PromptMasker")
        if fill_id is None:
            fill_id = next((t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None), None)
            if hide == "token" and fill_id is None:
                raise InvalidArgumentError("The tokenizer has neither a pad nor an end-of-sequence token: give "
                                           "PromptMasker a 'fill_id', or hide='delete'.")
        self.fill_id = None if fill_id is None else check_int(int(fill_id), "fill_id", owner="PromptMasker",
                                                              minimum=0, maximum=len(tokenizer) - 1)

    def prepare(self, generation: Any) -> Prepared:
        if not isinstance(generation, Generation):
            raise InvalidTypeError(f"PromptMasker masks lumos Generations. Got {type(generation).__name__}.")
        ids = np.asarray(generation.ids, dtype=np.int64)
        n_prompt = generation.n_prompt
        content = self._content(generation)  # prompt positions the user wrote
        text = generation.prompt
        starts = [start for _, start in content]
        positions = np.array([p for p, _ in content], dtype=np.int64)
        word_index, words = group_by_words(text, starts)
        feature_of = np.full(n_prompt, -1, dtype=np.int64)
        if self.granularity == "words":
            feature_of[positions] = word_index
            labels, display = words, tuple(range(len(words)))
        elif self.granularity == "tokens":
            feature_of[positions] = np.arange(len(positions))
            labels, display = tuple(generation.tokens[p] for p in positions), word_index
        else:
            spans = [m.span() for m in _SENTENCE.finditer(text) if m.group().strip()]
            sentence_of = [next((k for k, (a, b) in enumerate(spans) if a <= s < b), len(spans) - 1) for s in starts]
            used: dict[int, int] = {}
            feature_of[positions] = [used.setdefault(k, len(used)) for k in sentence_of]
            labels = tuple(text[slice(*spans[k])].strip() for k in used)
            words, display = labels, tuple(range(len(labels)))  # a sentence is its own display unit
        return Prepared(example=generation, labels=tuple(labels), text=text, words=words, word_index=display,
                        state=(ids, n_prompt, feature_of))

    def _content(self, generation: Any) -> list[tuple[int, int]]:
        """(position, character offset in the prompt) of each prompt token that belongs to the user's text."""
        prompt = generation.prompt
        special = set(self.tokenizer.all_special_ids)
        enc = self.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
        own = [int(i) for i in enc["input_ids"]]
        prompt_ids = list(generation.prompt_ids)
        # The user's tokens are one run inside the prompt's ids (after a BOS, or inside a chat template).
        for start in range(len(prompt_ids) - len(own) + 1):
            if prompt_ids[start:start + len(own)] == own:
                return [(start + k, enc["offset_mapping"][k][0]) for k in range(len(own))
                        if own[k] not in special]
        raise InvalidArgumentError("The prompt's tokens could not be found in the generation's ids (was it "
                                   "tokenized by another tokenizer?); give PromptMasker the model's tokenizer.")

    def apply(self, prepared: Prepared, masks: np.ndarray) -> list[SequenceRow]:
        ids, n_prompt, feature_of = prepared.state
        masks = np.asarray(masks, dtype=bool)
        is_content = feature_of >= 0
        keep = np.ones((len(masks), len(ids)), dtype=bool)
        keep[:, np.flatnonzero(is_content)] = masks[:, feature_of[is_content]]
        if self.hide == "token":
            return [SequenceRow(np.where(k, ids, self.fill_id), n_prompt) for k in keep]
        return [SequenceRow(ids[k], int(k[:n_prompt].sum())) for k in keep]

    def readout(self, prepared: Prepared, rows: list[SequenceRow], quantity: str, *, steps: np.ndarray | None = None,
                contrast: int | None = None) -> Readout:
        """The readout of generated tokens ``steps`` (default: all) on masked rows: K = len(steps) values per
        row, each token read where it stands in that row (deleting prompt tokens moves it)."""
        g: Generation = prepared.example
        steps = np.arange(g.n_generated) if steps is None else np.asarray(steps, dtype=np.int64)
        starts = np.array([row.n_prompt for row in rows], dtype=np.int64)
        positions = starts[:, None] - 1 + steps[None, :]  # (m, K)
        tokens = np.tile(np.asarray(g.ids, dtype=np.int64)[g.n_prompt + steps], (len(rows), 1))
        foil = None if contrast is None else np.full(tokens.shape, int(contrast), dtype=np.int64)
        return Readout(tokens, quantity, foil, positions)

    def feature_values(self, explanation: Any, prepared: Prepared) -> np.ndarray:
        """The attribution of the whole continuation to this masker's features, from an explanation of the
        same generation: its rows summed (attributions are linear in the explained quantity, so the sum of
        the per-token rows explains the sum of their log-probabilities), and token values summed per feature
        for explanations over tokens."""
        values = np.asarray(explanation.values, dtype=np.float64)
        values = values.sum(0) if values.ndim == 2 else values
        if tuple(explanation.features) == tuple(prepared.labels):
            return values
        ids, n_prompt, feature_of = prepared.state
        g: Generation = prepared.example
        if len(values) not in (len(g.ids), n_prompt) or tuple(explanation.features[:n_prompt]) != g.tokens[:n_prompt]:
            raise InvalidArgumentError(
                f"The explanation ({explanation.method}) has {len(values)} features {tuple(explanation.features[:5])}... "
                f"that are neither this masker's {prepared.n_features} features {prepared.labels[:5]}... nor the tokens "
                "of this generation.")
        out = np.zeros(prepared.n_features)
        content = feature_of >= 0
        np.add.at(out, feature_of[content], values[:n_prompt][content])
        return out
