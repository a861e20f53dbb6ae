"""Occlusion / leave-one-out: drops computed by hand through the masker, window coverage, additive games,
batching and cost."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lumos
from lumos import CallableAdapter, Occlusion
from lumos.maskers import TabularMasker, TextMasker

W = np.array([[1.5, -2.0, 0.25, 3.0, -0.5],
              [-0.5, 4.0, -1.0, 0.0, 2.0]])
X = np.array([0.5, -1.75, 2.25, 0.75, 1.0])


def linear_adapter() -> CallableAdapter:
    return CallableAdapter(lambda rows: np.asarray(rows, dtype=np.float64) @ W.T + [0.25, -0.5],
                           class_names=["a", "b"], output_kind="logits")


def zero_masker(n: int = 5) -> TabularMasker:
    return TabularMasker(np.zeros((1, n)))


# -- closed-form answers --------------------------------------------------------------------------------
@pytest.mark.parametrize("target", [0, 1])
def test_additive_game_gives_weight_times_input(target):
    """Leave-one-out on a linear model with hidden features set to 0 is exactly w_i x_i."""
    e = Occlusion(linear_adapter(), masker=zero_masker()).attribute(X, target=target)
    np.testing.assert_allclose(e.values, W[target] * X, rtol=0, atol=1e-12)
    assert e.convergence_delta is None  # occlusion promises no completeness


@pytest.mark.parametrize("window, stride", [(2, 1), (3, 2), (3, 3), (4, 4), (9, 1)])
def test_window_value_is_mean_drop_of_covering_windows(window, stride):
    """A feature's value is the mean, over the windows that cover it, of the window's total w_i x_i."""
    n = 7
    w, x = np.arange(1.0, n + 1), np.array([1.0, -2.0, 0.5, 3.0, -1.0, 2.0, 0.25])
    adapter = CallableAdapter(lambda rows: np.asarray(rows, dtype=np.float64) @ w[:, None],
                              class_names=["only"], output_kind="logits")
    e = Occlusion(adapter, masker=zero_masker(n), window=window, stride=stride).attribute(x, target=0)
    width = min(window, n)
    starts = sorted(set(range(0, n - width + 1, stride)) | {n - width})
    contributions = w * x
    expected = np.array([np.mean([contributions[s:s + width].sum() for s in starts if s <= i < s + width])
                         for i in range(n)])
    np.testing.assert_allclose(e.values, expected, rtol=0, atol=1e-12)
    # A window as wide as the input hides everything: that is the empty coalition, evaluated once.
    assert e.cost.n_evals == len(starts) + 2 - (width == n)


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13])
@pytest.mark.parametrize("window, stride", [(1, 1), (2, 1), (3, 2), (3, 3), (20, 3)])
def test_windows_cover_every_feature(n, window, stride):
    """With stride <= window, planned windows are contiguous, of width min(window, n), cover every feature,
    end at the last one, and their number is ceil((n - width) / stride) + 1."""
    masks = Occlusion(linear_adapter(), masker=zero_masker(), window=window, stride=stride).plan(
        n, np.random.default_rng(0))
    width = min(window, n)
    hidden = ~masks
    assert (hidden.sum(1) == width).all()
    for row in hidden:
        (where,) = np.nonzero(row)
        assert where[-1] - where[0] == width - 1  # one contiguous window
    assert hidden.any(0).all()
    assert hidden[-1, -1]
    assert len(masks) == math.ceil((n - width) / stride) + 1


# -- the real model -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_leave_one_out_equals_drop_computed_by_hand(tweets_model):
    """Each word's value is v(all) - v(all without that word), with the words hidden by the masker and the
    rows run through the model directly."""
    text = "@JetBlue can't find my bag, unbelievably rude"
    e = Occlusion(tweets_model).attribute(text, target="negative")
    masker = TextMasker(tweets_model.tokenizer)
    prepared = masker.prepare(text)
    n = prepared.n_features
    masks = np.concatenate([np.ones((1, n), dtype=bool), ~np.eye(n, dtype=bool)])
    logits = tweets_model.predict(masker.apply(prepared, masks))[:, 0]
    assert e.features == prepared.labels == tuple(text.split())
    # float32 logits of size ~1-10 in batches of other shapes: 1e-4 is ~100 float32 ulps.
    np.testing.assert_allclose(e.values, logits[0] - logits[1:], rtol=0, atol=1e-4)
    assert e.output_value == pytest.approx(logits[0], abs=1e-4)
    assert e.cost.n_evals == n + 2


@pytest.mark.slow
def test_batched_equals_one_at_a_time(tweets_model):
    """Texts of different lengths explained in one call, or in batches of 3 rows, get their values alone."""
    texts = ["ok", "@united lost my bag AGAIN!! unbelievably bad service",
             "@JetBlue thanks, the crew was lovely and the flight early"]
    together = Occlusion(tweets_model, window=2).attribute(texts)
    small = Occlusion(tweets_model, window=2, batch_size=3).attribute(texts)
    assert isinstance(together, lumos.ExplanationSet)
    for text, a, b in zip(texts, together, small):
        alone = Occlusion(tweets_model, window=2).attribute(text)
        assert a.features == alone.features and a.target == alone.target
        np.testing.assert_allclose(a.values, alone.values, rtol=0, atol=1e-4)
        np.testing.assert_allclose(b.values, alone.values, rtol=0, atol=1e-4)
    # n - 1 windows of two words (one of one word for "ok"), plus the full and the empty coalition.
    assert [len(e.features) for e in together] == [1, 8, 10]
    # "ok"'s one window hides its only word: the empty coalition, not evaluated twice.
    assert [e.cost.n_evals for e in together] == [0 + 2, 7 + 2, 9 + 2]


def test_cost_counts_rows_through_the_background():
    """Each mask costs one model row per background row: (n windows + 2) * k evaluations."""
    e = Occlusion(linear_adapter(), masker=TabularMasker(np.zeros((4, 5)))).attribute(X, target=0)
    assert e.cost.n_evals == (5 + 2) * 4
    assert e.params == {"output": "logit", "seed": 0, "window": 1, "stride": 1}
    assert lumos.get_method("loo") is Occlusion and lumos.get_method("leave-one-out") is Occlusion


@pytest.mark.parametrize("kwargs, message", [
    ({"window": 0}, "The 'window' parameter of Occlusion must be an int >= 1. Got 0."),
    ({"stride": 0}, "The 'stride' parameter of Occlusion must be an int >= 1. Got 0."),
    ({"window": 2, "stride": 3}, "The 'stride' parameter of Occlusion must be <= window (2), so that every "
                                 "feature is hidden by some window. Got 3."),
])
def test_bad_settings_are_named(kwargs, message):
    """Window and stride below 1 raise an error naming the parameter and the value."""
    with pytest.raises(lumos.InvalidArgumentError) as info:
        Occlusion(linear_adapter(), masker=zero_masker(), **kwargs)
    assert str(info.value) == message
