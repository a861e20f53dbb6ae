"""The text masker: words and word pieces as features, the three ways of hiding, special tokens, truncation."""

from __future__ import annotations

import numpy as np
import pytest

import lumos
from lumos.maskers import TextMasker

# "@JetBlue" is four pieces (@ jet ##bl ##ue), "can't" three (can ' t), "unbelievably" five.
TEXT = "@JetBlue can't find my bag, unbelievably rude"
WORDS = ("@JetBlue", "can't", "find", "my", "bag,", "unbelievably", "rude")


@pytest.fixture(scope="module")
def tokenizer(tweets_model):
    return tweets_model.tokenizer


def pieces(tokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])


def test_word_features_are_whitespace_words(tokenizer):
    """With granularity="words" the features are the text's whitespace words, punctuation kept inside."""
    p = TextMasker(tokenizer).prepare(TEXT)
    assert p.labels == WORDS == p.words
    assert p.word_index == tuple(range(len(WORDS)))
    assert p.text == TEXT and p.example == TEXT


def test_token_features_are_word_pieces_grouped_by_word(tokenizer):
    """With granularity="tokens" the features are the word pieces (no special tokens), each pointing at its
    whitespace word."""
    p = TextMasker(tokenizer, granularity="tokens").prepare(TEXT)
    assert p.labels == tuple(pieces(tokenizer, TEXT)[1:-1])
    assert p.labels[:4] == ("@", "jet", "##bl", "##ue")
    assert p.words == WORDS
    assert p.word_index == (0, 0, 0, 0, 1, 1, 1, 2, 3, 4, 4, 5, 5, 5, 5, 5, 6)


@pytest.mark.parametrize("granularity", ["words", "tokens"])
def test_all_shown_reproduces_the_tokenizer_ids(tokenizer, granularity):
    """A mask that shows every feature gives back exactly the tokenizer's ids, whatever the hiding kind."""
    ids = tokenizer(TEXT)["input_ids"]
    for hide in ("mask", "pad", "delete"):
        masker = TextMasker(tokenizer, granularity=granularity, hide=hide)
        p = masker.prepare(TEXT)
        (row,) = masker.apply(p, np.ones((1, p.n_features), dtype=bool))
        assert row.tolist() == ids


@pytest.mark.parametrize("hide, fill", [("mask", "mask_token_id"), ("pad", "pad_token_id")])
def test_hidden_multi_piece_word_replaces_all_its_pieces(tokenizer, hide, fill):
    """Hiding a word of several pieces replaces every one of its pieces by the fill token, and nothing else."""
    masker = TextMasker(tokenizer, hide=hide)
    p = masker.prepare(TEXT)
    ids = np.asarray(tokenizer(TEXT)["input_ids"])
    mask = np.ones(p.n_features, dtype=bool)
    mask[5] = False  # "unbelievably": un ##bel ##ie ##va ##bly, tokens 12..16
    (row,) = masker.apply(p, mask[None])
    expected = ids.copy()
    expected[12:17] = getattr(tokenizer, fill)
    assert row.tolist() == expected.tolist()


def test_delete_removes_the_hidden_words_pieces(tokenizer):
    """hide="delete" drops a hidden word's pieces from the sequence, keeping the order of the others."""
    masker = TextMasker(tokenizer, hide="delete")
    p = masker.prepare(TEXT)
    mask = np.ones(p.n_features, dtype=bool)
    mask[[0, 5]] = False
    (row,) = masker.apply(p, mask[None])
    assert tokenizer.convert_ids_to_tokens(row.tolist()) == (
        ["[CLS]", "can", "'", "t", "find", "my", "bag", ",", "rude", "[SEP]"])


@pytest.mark.parametrize("hide", ["mask", "pad", "delete"])
def test_special_tokens_are_never_hidden(tokenizer, hide):
    """Hiding every feature keeps [CLS] first and [SEP] last; every content token is hidden."""
    for granularity in ("words", "tokens"):
        masker = TextMasker(tokenizer, granularity=granularity, hide=hide)
        p = masker.prepare(TEXT)
        (row,) = masker.apply(p, np.zeros((1, p.n_features), dtype=bool))
        assert row[0] == tokenizer.cls_token_id and row[-1] == tokenizer.sep_token_id
        if hide == "delete":
            assert len(row) == 2
        else:
            fill = tokenizer.mask_token_id if hide == "mask" else tokenizer.pad_token_id
            assert len(row) == len(tokenizer(TEXT)["input_ids"]) and (row[1:-1] == fill).all()


def test_token_granularity_hides_single_pieces(tokenizer):
    """With token features a mask hides one piece of a word and keeps the word's other pieces."""
    masker = TextMasker(tokenizer, granularity="tokens")
    p = masker.prepare(TEXT)
    masks = np.ones((2, p.n_features), dtype=bool)
    masks[0, 1] = False  # "jet" of @JetBlue
    masks[1, 16] = False  # "rude"
    rows = masker.apply(p, masks)
    assert len(rows) == 2
    assert tokenizer.convert_ids_to_tokens(rows[0][:5].tolist()) == ["[CLS]", "@", "[MASK]", "##bl", "##ue"]
    assert tokenizer.convert_ids_to_tokens(rows[1][-2:].tolist()) == ["[MASK]", "[SEP]"]


def test_truncation_keeps_max_length_tokens_and_the_words_they_cover(tokenizer):
    """A long text is cut to max_length tokens ([SEP] kept last); features are the words that survive,
    including a word cut in the middle."""
    masker = TextMasker(tokenizer, max_length=8)
    p = masker.prepare(TEXT)
    # [CLS] @ jet ##bl ##ue can ' [SEP]: "@JetBlue" whole and the start of "can't".
    assert p.labels == ("@JetBlue", "can't")
    (row,) = masker.apply(p, np.ones((1, 2), dtype=bool))
    assert len(row) == 8 and row[-1] == tokenizer.sep_token_id
    (hidden,) = masker.apply(p, np.array([[True, False]]))
    assert (hidden[5:7] == tokenizer.mask_token_id).all()


def test_masked_rows_run_through_the_model(tweets_model):
    """Rows from the masker are inputs the adapter accepts: all shown gives the text's own logits."""
    masker = tweets_model.default_masker()
    assert isinstance(masker, TextMasker)
    p = masker.prepare(TEXT)
    rows = masker.apply(p, np.array([[True] * p.n_features, [False] * p.n_features]))
    logits = tweets_model.predict(rows)
    np.testing.assert_allclose(logits[0], tweets_model.predict([TEXT])[0], rtol=0, atol=1e-5)
    assert not np.allclose(logits[0], logits[1], atol=1e-3)


def test_bad_arguments_are_named(tokenizer):
    """A slow tokenizer, a non-text example and unknown settings raise errors saying what is accepted."""
    with pytest.raises(lumos.InvalidTypeError, match="'tokenizer' parameter of TextMasker must be a fast"):
        TextMasker(object())
    with pytest.raises(lumos.InvalidTypeError, match="TextMasker masks texts. Got int."):
        TextMasker(tokenizer).prepare(3)
    with pytest.raises(lumos.UnknownNameError, match="'granularity' parameter of TextMasker must be one of"):
        TextMasker(tokenizer, granularity="chars")
    with pytest.raises(lumos.UnknownNameError, match="'hide' parameter of TextMasker must be one of"):
        TextMasker(tokenizer, hide="zero")
    with pytest.raises(lumos.InvalidArgumentError, match="'max_length' parameter of TextMasker must be an int >= 3"):
        TextMasker(tokenizer, max_length=2)
