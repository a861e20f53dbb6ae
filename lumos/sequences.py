"""Token sequences: :class:`Generation` (what a sequence explanation explains: a prompt and its continuation
as token ids) and :func:`group_by_words` (tokens to the display words of a text).

It lives at the bottom of the package so that the model adapter that makes it, the masker that hides parts of
its prompt and the methods that explain it all read the same object.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Generation", "group_by_words"]

_WORD = re.compile(r"\S+")


def group_by_words(text: str, starts: Sequence[int]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Group tokens into the whitespace-delimited words of ``text``.

    ``starts`` are the character offsets where the tokens begin (a token that begins with whitespace belongs
    to the word after it). Returns, for each token, the index of its word among the words that have tokens,
    and those words. (A tokenizer's own words split punctuation,
    "can ' t"; a reader sees "can't".)
    """
    spans = [m.span() for m in _WORD.finditer(text)]
    used: dict[int, int] = {}  # index in spans -> index among the words returned
    word_index = []
    for start in starts:
        # Byte-level BPE tokens carry the space before a word (" Paris"): they belong to the word that follows.
        while start < len(text) and text[start].isspace():
            start += 1
        w = max(bisect.bisect_right(spans, (start, float("inf"))) - 1, 0)
        word_index.append(used.setdefault(w, len(used)))
    return tuple(word_index), tuple(text[slice(*spans[w])] for w in used)


@dataclass(frozen=True)
class Generation:
    """A prompt and its continuation, as the model's token ids.

    Attributes
    ----------
    prompt : str
        The prompt as the user wrote it (before any chat template).
    ids : tuple of int
        Every token of the sequence: the prompt's (chat template and special tokens included), then the
        continuation's.
    n_prompt : int
        How many of ``ids`` are the prompt's; ``ids[n_prompt:]`` is the continuation.
    tokens : tuple of str
        Each token as text (``tokenizer.decode`` of that token alone).
    log_probs : tuple of float
        The model's log-probability of each continuation token given everything before it.
    chat : bool
        Whether the prompt was wrapped in the model's chat template.
    """

    prompt: str
    ids: tuple[int, ...]
    n_prompt: int
    tokens: tuple[str, ...]
    log_probs: tuple[float, ...] = ()
    chat: bool = False

    @property
    def prompt_ids(self) -> tuple[int, ...]:
        return self.ids[: self.n_prompt]

    @property
    def generated_ids(self) -> tuple[int, ...]:
        return self.ids[self.n_prompt:]

    @property
    def n_generated(self) -> int:
        return len(self.ids) - self.n_prompt

    @property
    def continuation(self) -> str:
        """The continuation as text."""
        return "".join(self.tokens[self.n_prompt:])

    @property
    def text(self) -> str:
        """The whole sequence as text (the prompt as the model saw it, then the continuation)."""
        return "".join(self.tokens)

    def words(self) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """For each token, the index of its whitespace-delimited display word, and those words."""
        starts = np.cumsum([0, *map(len, self.tokens[:-1])]).tolist()
        # A token of whitespace only joins the next word (group_by_words maps it to the word before).
        return group_by_words(self.text, starts)
