"""Text masker: hide words (or word pieces) by the mask token, the pad token, or by deleting them."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError, InvalidTypeError, check_choice, check_int
from ..sequences import group_by_words
from .base import Masker, Prepared

__all__ = ["TextMasker", "group_by_words"]

class TextMasker(Masker):
    """Mask the words of a text for a transformer classifier.

    The text is tokenized once; masks then act on token ids, so masking never re-tokenizes and a hidden word
    of three pieces is three hidden tokens. Special tokens ([CLS], [SEP]) are never hidden.

    Parameters
    ----------
    tokenizer : fast Hugging Face tokenizer
    granularity : {"words", "tokens"}, default "words"
        Features are whitespace-delimited words, or word pieces.
    hide : {"mask", "pad", "delete"}, default "mask"
        Replace each hidden token by the mask token, by the pad token, or remove it from the sequence.
    max_length : int, default 128
        Longer texts are truncated to this many tokens.

    Examples
    --------
    >>> masker = TextMasker(model.tokenizer)                               # doctest: +SKIP
    >>> p = masker.prepare("the flight was late"); p.labels                # doctest: +SKIP
    ('the', 'flight', 'was', 'late')
    >>> masker.apply(p, np.array([[True, True, False, True]]))             # doctest: +SKIP
    [array([ 101, 1996, 3462,  103, 2397,  102])]
    """

    def __init__(self, tokenizer: Any, *, granularity: str = "words", hide: str = "mask", max_length: int = 128) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise InvalidTypeError("The 'tokenizer' parameter of TextMasker must be a fast Hugging Face tokenizer. "
                                   f"Got {type(tokenizer).__name__}.")
        self.tokenizer = tokenizer
        self.granularity = check_choice(granularity, "granularity", ("words", "tokens"), owner="TextMasker")
        self.hide = check_choice(hide, "hide", ("mask", "pad", "delete"), owner="TextMasker")
        self.max_length = check_int(max_length, "max_length", owner="TextMasker", minimum=3)
        if hide != "delete":
            token_id = tokenizer.mask_token_id if hide == "mask" else tokenizer.pad_token_id
            if token_id is None:
                raise InvalidArgumentError(f"The tokenizer has no {hide} token; use TextMasker(hide='delete') "
                                           "or another kind.")
            self.fill_id = int(token_id)

    def prepare(self, text: str) -> Prepared:
        if not isinstance(text, str):
            raise InvalidTypeError(f"TextMasker masks texts. Got {type(text).__name__}.")
        enc = self.tokenizer(text, truncation=True, max_length=self.max_length, return_offsets_mapping=True,
                             return_special_tokens_mask=True, split_special_tokens=True)  # "[SEP]" typed is text
        ids = np.asarray(enc["input_ids"], dtype=np.int64)
        special = np.asarray(enc["special_tokens_mask"], dtype=bool)
        content = np.flatnonzero(~special)
        starts = [enc["offset_mapping"][i][0] for i in content]
        word_index, words = group_by_words(text, starts)
        # feature_of[t]: the feature that token t belongs to, -1 for special tokens.
        feature_of = np.full(len(ids), -1, dtype=np.int64)
        if self.granularity == "words":
            feature_of[content] = word_index
            labels = words
            display_index = tuple(range(len(words)))
        else:
            feature_of[content] = np.arange(len(content))
            labels = tuple(self.tokenizer.convert_ids_to_tokens(ids[content].tolist()))
            display_index = word_index
        return Prepared(example=text, labels=tuple(labels), text=text, words=words, word_index=display_index,
                        state=(ids, feature_of))

    def apply(self, prepared: Prepared, masks: np.ndarray) -> list[np.ndarray]:
        ids, feature_of = prepared.state
        masks = np.asarray(masks, dtype=bool)
        is_content = feature_of >= 0
        # keep[m, t]: token t survives mask m (special tokens always do).
        keep = np.ones((len(masks), len(ids)), dtype=bool)
        keep[:, is_content] = masks[:, feature_of[is_content]]
        if self.hide == "delete":
            return [ids[k] for k in keep]
        rows = np.where(keep, ids[None, :], self.fill_id)
        return list(rows)
