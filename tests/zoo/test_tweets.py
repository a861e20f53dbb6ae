"""The zoo: the airline-tweets dataset (clean, deterministic, disjoint splits) and the tweets-sentiment model."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lumos
from lumos import ModelLoadError, UnknownNameError, zoo
from lumos.zoo import tweets


@pytest.fixture(scope="module")
def data():
    return zoo.dataset("airline-tweets")


def all_texts(data) -> list[str]:
    return [t for split in ("train", "validation", "test") for t in data.split(split).texts]


# -- dataset --------------------------------------------------------------------------------------------
def test_splits_are_disjoint(data):
    """No tweet (compared case-insensitively, as de-duplication does) appears in two splits."""
    keys = {name: {t.casefold() for t in data.split(name).texts} for name in ("train", "validation", "test")}
    assert not keys["train"] & keys["validation"]
    assert not keys["train"] & keys["test"]
    assert not keys["validation"] & keys["test"]
    assert sum(len(k) for k in keys.values()) == len(all_texts(data))  # no duplicates within a split either


def test_split_sizes_are_70_15_15(data):
    """The splits hold 70%, 15% and the remaining ~15% of the tweets."""
    n = len(all_texts(data))
    assert (len(data.train), len(data.validation)) == (int(0.7 * n), int(0.15 * n))
    assert len(data.test) == n - len(data.train) - len(data.validation)


def test_loading_is_deterministic(data):
    """Reading the corpus again gives the same tweets, labels and order in every split."""
    again = tweets.load_airline_tweets()
    for name in ("train", "validation", "test"):
        assert again.split(name).texts == data.split(name).texts
        np.testing.assert_array_equal(again.split(name).labels, data.split(name).labels)


def test_three_classes_present_in_every_split(data):
    """Labels index the three sentiment classes, and each split holds all three."""
    assert data.class_names == ("negative", "neutral", "positive")
    for name in ("train", "validation", "test"):
        split = data.split(name)
        assert split.labels.shape == (len(split.texts),)
        assert set(np.unique(split.labels)) == {0, 1, 2}
        assert not split.labels.flags.writeable


def test_text_is_clean(data):
    """No mojibake ('Ã', '\\ufffd', any non-ASCII byte), no HTML entity and no stray whitespace remains."""
    entity = re.compile(r"&(#\d+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)
    for text in all_texts(data):
        assert text.isascii(), text
        assert "\ufffd" not in text and "Ã" not in text
        assert not entity.search(text), text
        assert text == " ".join(text.split()) and text


def test_every_tweet_addresses_an_airline(data):
    """Every tweet mentions one of the six airlines (the corpus's other topics are left out)."""
    airline = re.compile(r"@(united|usairways|americanair|southwestair|jetblue|virginamerica)\b", re.IGNORECASE)
    assert all(airline.search(t) for t in all_texts(data))


def test_clean_text_repairs_mojibake():
    """clean_text restores mangled apostrophes and quotes, drops other debris and unescapes HTML."""
    raw = b"I can\xe4\xf3\xbbt &amp; \xe4\xf3\xecok\xe4\xf3\x9d  \xf0\x9f\x98\x8a done &lt;3"
    assert tweets.clean_text(raw) == "I can't & \"ok\" done <3"


def test_unknown_split_is_refused(data):
    """Asking for a split that does not exist lists the three that do."""
    with pytest.raises(UnknownNameError, match=r"The 'split' parameter must be one of 'train', 'validation', "
                                               r"'test'\. Got 'dev'\."):
        data.split("dev")


# -- names and info -------------------------------------------------------------------------------------
def test_info_reports_held_out_accuracy():
    """zoo.info describes the built model, with a test accuracy of at least 0.75 and the split sizes."""
    info = zoo.info("tweets-sentiment")
    assert info["built"] is True and info["dataset"] == "airline-tweets"
    assert info["test_accuracy"] >= 0.75
    data = zoo.dataset("airline-tweets")
    assert (info["n_train"], info["n_validation"], info["n_test"]) == (len(data.train), len(data.validation),
                                                                       len(data.test))
    assert info["class_names"] == list(data.class_names)


@pytest.mark.parametrize("call", [zoo.load, zoo.info, zoo.build, lambda name: zoo.dataset(name)])
def test_unknown_zoo_name_is_refused(call):
    """An unknown zoo name raises UnknownNameError listing the names the zoo has."""
    with pytest.raises(UnknownNameError, match=r"must be one of '(tweets-sentiment|airline-tweets)'(, '[a-z0-9-]+')*\. Got 'nope'\."):
        call("nope")


def test_unknown_name_through_load_model_lists_zoo_names():
    """lumos.load_model of an unknown name that is no directory names the zoo's models."""
    with pytest.raises(ModelLoadError, match=r"'nope' is neither a zoo model \('tweets-sentiment'(, '[a-z0-9-]+')*\)"):
        lumos.load_model("nope")


# -- the model ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_model_is_a_three_class_text_adapter(tweets_model):
    """The zoo model is a TransformersAdapter with the dataset's classes and a card carrying its accuracy."""
    assert isinstance(tweets_model, lumos.TransformersAdapter)
    assert tweets_model.class_names == ("negative", "neutral", "positive")
    assert tweets_model.name == "tweets-sentiment"
    assert tweets_model.card["test_accuracy"] == zoo.info("tweets-sentiment")["test_accuracy"]
    assert not tweets_model.model.training
    assert tweets_model.model.config._attn_implementation == "eager"


@pytest.mark.slow
def test_model_accuracy_on_held_out_tweets(tweets_model, data):
    """On the first 300 test tweets the model is right at least 75% of the time, far above the majority class."""
    texts, labels = data.test.texts[:300], data.test.labels[:300]
    probs = tweets_model.predict_proba(list(texts))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    accuracy = float((probs.argmax(axis=1) == labels).mean())
    majority = float(np.bincount(labels).max() / len(labels))
    assert accuracy >= 0.75 and accuracy > majority + 0.1


@pytest.mark.slow
def test_predictions_do_not_depend_on_batch_order(tweets_model, data):
    """predict returns rows in the caller's order whatever the batch size (it sorts by length internally)."""
    texts = list(data.test.texts[:12])
    whole = tweets_model.predict(texts)
    small = tweets_model.predict(texts, batch_size=5)
    reversed_ = tweets_model.predict(texts[::-1], batch_size=5)[::-1]
    # Differently padded batches change float32 summation order only.
    np.testing.assert_allclose(small, whole, rtol=0, atol=1e-4)
    np.testing.assert_allclose(reversed_, whole, rtol=0, atol=1e-4)
