"""LIME: closed-form answers on linear games, the fit against the reference `lime` package, sampling,
determinism, batching, cost and errors."""

from __future__ import annotations

import numpy as np
import pytest

import lumos
from lumos import LIME, CallableAdapter
from lumos.maskers import TabularMasker

# A 3-class linear logit model on 6 features; weights and inputs are exact in float32, so w * x is exact.
W = np.array([[1.5, -2.0, 0.25, 3.0, -0.5, 0.75],
              [-0.5, 4.0, -1.0, 0.0, 2.0, -1.25],
              [2.0, 0.125, -3.5, -1.25, 1.0, 0.5]])
B = np.array([0.5, -1.0, 0.75])
X = np.array([0.5, -1.75, 2.25, 0.75, 1.0, -2.0])


def linear_logits(rows: list[np.ndarray]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64) @ W.T + B


def linear_adapter() -> CallableAdapter:
    return CallableAdapter(linear_logits, class_names=["a", "b", "c"], output_kind="logits")


def zero_masker(n: int = 6, **kwargs) -> TabularMasker:
    """Hidden features become 0, so v(S) = b + sum_{i in S} w_i x_i for the linear model."""
    return TabularMasker(np.zeros((1, n)), **kwargs)


def and_game_adapter() -> CallableAdapter:
    """Logit of class 1 = 4 x0 x1 (a pure interaction of features 0 and 1) + x2; class 0 is its negative."""

    def f(rows):
        x = np.asarray(rows, dtype=np.float64)
        z = 4.0 * x[:, 0] * x[:, 1] + x[:, 2]
        return np.stack([-z, z], axis=1)

    return CallableAdapter(f, class_names=["no", "yes"], output_kind="logits")


# -- closed-form answers --------------------------------------------------------------------------------
@pytest.mark.parametrize("target", [0, 1, 2])
def test_linear_game_is_recovered_exactly(target):
    """Without the ridge penalty, LIME on a linear game returns w_i x_i, intercept b and R^2 = 1."""
    e = LIME(linear_adapter(), masker=zero_masker(), alpha=0.0, n_evals=64).attribute(X, target=target)
    np.testing.assert_allclose(e.values, W[target] * X, rtol=0, atol=1e-12)
    assert e.diagnostics["r2"] == pytest.approx(1.0, abs=1e-12)
    assert e.diagnostics["intercept"] == pytest.approx(B[target], abs=1e-12)
    assert e.output_value == pytest.approx(B[target] + W[target] @ X, abs=1e-12)
    assert e.base_value == pytest.approx(B[target], abs=1e-12)


def test_ridge_shrinks_the_linear_answer_towards_zero():
    """With alpha > 0 the coefficients keep their signs but shrink, so the sum of |values| drops."""
    exact = W[0] * X
    e = LIME(linear_adapter(), masker=zero_masker(), alpha=1.0, n_evals=200).attribute(X, target=0)
    assert np.array_equal(np.sign(e.values), np.sign(exact))
    assert np.abs(e.values).sum() < np.abs(exact).sum()
    assert 0.9 < e.diagnostics["r2"] < 1.0


def test_nonlinear_game_has_r2_below_one():
    """An interaction no linear model can fit leaves R^2 clearly below 1 (0.74 here); its two features get
    the most, and the additive feature x2 (worth 1 alone) comes next."""
    e = LIME(and_game_adapter(), masker=zero_masker(4), alpha=0.0, n_evals=400).attribute(np.ones(4), target=1)
    assert e.diagnostics["r2"] < 0.9
    assert min(e.values[:2]) > 2 * abs(e.values[2])
    # The ignored feature x3 is not exactly 0 (a misspecified linear fit leaks onto it: LIME has no
    # null-player property), but it stays the smallest.
    assert list(np.argsort(-np.abs(e.values))[2:]) == [2, 3]


def test_single_feature_without_penalty_is_the_whole_gap():
    """With one feature (and alpha=0) the fit runs through v(all) and v(none): the value is their gap."""
    adapter = CallableAdapter(lambda rows: np.asarray(rows) ** 2 * [[1.0, -1.0]], class_names=["p", "q"],
                              output_kind="logits")
    e = LIME(adapter, masker=zero_masker(1), alpha=0.0, n_evals=10).attribute(np.array([3.0]), target=0)
    assert e.values[0] == pytest.approx(9.0, abs=1e-12)


# -- against the reference implementation --------------------------------------------------------------
def test_fit_equals_lime_package_on_the_same_samples():
    """On the same masks and game values, coefficients, intercept and R^2 equal those of lime's LimeBase
    (sklearn Ridge with sample weights, lime's text distance = 100 x cosine, kernel width 25)."""
    pytest.importorskip("lime")
    from lime.lime_base import LimeBase
    from sklearn.metrics.pairwise import pairwise_distances

    method = LIME(and_game_adapter(), masker=zero_masker(4))
    n = 6
    masks = method.plan(n, np.random.default_rng(3))
    z = masks.astype(float)
    values = 4.0 * z[:, 0] * z[:, 1] - 2.0 * z[:, 2] + 0.5 * z[:, 3] * z[:, 4] * z[:, 5]
    full, empty = 4.0 - 2.0 + 0.5, 0.0
    est = method.estimate(masks, values, full, empty)

    data = np.concatenate([np.ones((1, n)), np.zeros((1, n)), z])  # lime's first row is the input
    y = np.concatenate([[full, empty], values])
    distances = pairwise_distances(data, data[:1], metric="cosine").ravel() * 100
    base = LimeBase(lambda d: np.sqrt(np.exp(-(d ** 2) / 25 ** 2)))
    intercept, pairs, score, _ = base.explain_instance_with_data(data, np.stack([y, -y], 1), distances, 0, n,
                                                                 feature_selection="none")
    reference = np.zeros(n)
    for i, v in pairs:
        reference[i] = v
    np.testing.assert_allclose(est.values, reference, rtol=0, atol=1e-10)
    assert est.diagnostics["intercept"] == pytest.approx(intercept, abs=1e-10)
    assert est.diagnostics["r2"] == pytest.approx(score, abs=1e-10)


def test_agrees_with_lime_text_explainer():
    """End to end on a deterministic word-scoring text classifier, LIME matches LimeTextExplainer (same
    kernel, same sampler) up to sampling noise: the same signs and the same four strongest words."""
    pytest.importorskip("lime")
    from lime.lime_text import LimeTextExplainer

    scores = {"flight": 0.2, "late": -1.5, "again": -0.5, "crew": 0.8, "great": 2.0, "but": -0.3, "rude": -2.5,
              "gate": 0.1}
    words = "great crew but rude gate flight late again".split()

    def proba(texts):
        present = [set(t.split()) for t in texts]
        z = np.array([sum(scores.get(w, 0.0) for w in p) + ({"great", "crew"} <= p) for p in present])
        p = 1 / (1 + np.exp(-z))
        return np.stack([1 - p, p], axis=1)

    n = 10_000
    explainer = LimeTextExplainer(kernel_width=25, bow=False, split_expression=r"\s+", feature_selection="none",
                                  random_state=0, class_names=["neg", "pos"])
    reference = np.zeros(len(words))
    for i, v in explainer.explain_instance(" ".join(words), proba, labels=(1,), num_features=len(words),
                                           num_samples=n).as_map()[1]:
        reference[i] = v
    # The same game for lumos: each row says which words are present.
    adapter = CallableAdapter(lambda rows: proba([" ".join(w for w, k in zip(words, r) if k) for r in rows]),
                              class_names=["neg", "pos"])
    e = LIME(adapter, masker=zero_masker(len(words), feature_names=words), n_evals=n, output="probability"
             ).attribute(np.ones(len(words)), target=1)
    # Over 10 seeds each, the values of either implementation vary with a standard deviation <= 0.003.
    np.testing.assert_allclose(e.values, reference, rtol=0, atol=0.02)
    assert np.array_equal(np.sign(e.values), np.sign(reference))
    assert set(np.argsort(-np.abs(e.values))[:4]) == set(np.argsort(-np.abs(reference))[:4])


# -- sampling, determinism, batching, cost --------------------------------------------------------------
def test_sampler_hides_a_uniform_number_of_features():
    """Each planned mask hides 1..n features; the count is uniform and every feature is hidden equally often."""
    n, m = 5, 20_000
    method = LIME(linear_adapter(), masker=zero_masker(), n_evals=m + 2)
    masks = method.plan(n, np.random.default_rng(0))
    assert masks.shape == (m, n) and masks.dtype == bool
    hidden = (~masks).sum(1)
    counts = np.bincount(hidden, minlength=n + 1)
    assert counts[0] == 0 and counts[1:].min() > 0
    # Each count has probability 1/5: binomial standard deviation sqrt(m p (1 - p)) ~ 57; allow 5 of them.
    np.testing.assert_allclose(counts[1:], m / n, atol=5 * np.sqrt(m * 0.2 * 0.8))
    # A feature is hidden with probability E[k] / n = 3 / 5.
    np.testing.assert_allclose((~masks).mean(0), 0.6, atol=5 * np.sqrt(0.24 / m))


def test_same_seed_same_values_other_seed_other_values():
    """Randomness comes only from the seed: equal seeds give identical values, another seed different ones."""
    adapter, x = and_game_adapter(), np.ones(4)
    first = LIME(adapter, masker=zero_masker(4), n_evals=50, seed=5).attribute(x, target=1)
    again = LIME(adapter, masker=zero_masker(4), n_evals=50, seed=5).attribute(x, target=1)
    other = LIME(adapter, masker=zero_masker(4), n_evals=50, seed=6).attribute(x, target=1)
    assert np.array_equal(first.values, again.values)
    assert not np.allclose(first.values, other.values)


def test_cost_counts_distinct_masks_and_background_rows():
    """Each distinct mask (the full and the empty one included) costs one row per background row; with 40
    masks on 6 features (64 coalitions), some repeat."""
    background = np.zeros((3, 6))
    method = LIME(linear_adapter(), masker=TabularMasker(background), n_evals=40)
    e = method.attribute(X, target=0)
    plan = method.plan(6, np.random.default_rng(0))
    assert len(np.unique(plan, axis=0)) < len(plan)  # the sampler does repeat itself at this size
    assert 3 * 3 <= e.cost.n_evals < 40 * 3 and e.cost.n_evals % 3 == 0
    assert e.params == {"output": "logit", "seed": 0, "n_evals": 40, "kernel_width": 0.25, "alpha": 1.0}
    assert e.method == "lime" and lumos.get_method("lime") is LIME


def test_repeated_masks_are_evaluated_once():
    """On 3 features there are only 8 coalitions: 60 planned masks cost 8 model rows, each row is seen once,
    and the least-squares fit on the planned masks (repeats weighted as planned) is still the exact linear
    answer."""
    seen = []

    def predict(rows):
        seen.append(np.asarray(rows, dtype=np.float64))
        return seen[-1] @ W[:, :3].T + B

    adapter = CallableAdapter(predict, class_names=["a", "b", "c"], output_kind="logits")
    e = LIME(adapter, masker=zero_masker(3), n_evals=60, alpha=0.0).attribute(X[:3], target=1)
    rows = np.concatenate(seen)
    assert e.cost.n_evals == len(rows) == len(np.unique(rows, axis=0)) == 8
    np.testing.assert_allclose(e.values, W[1, :3] * X[:3], rtol=0, atol=1e-12)


BATCH_TEXTS = ["ok", "@united lost my bag AGAIN!! unbelievably bad service",
               "@JetBlue thanks, the crew was lovely and the flight early"]


@pytest.mark.slow
def test_batched_equals_one_at_a_time(tweets_model):
    """Texts explained together, or in small batches, get the values they get when explained alone."""
    together = LIME(tweets_model, n_evals=40).attribute(BATCH_TEXTS)
    small_batches = LIME(tweets_model, n_evals=40, batch_size=7).attribute(BATCH_TEXTS)
    for text, a, b in zip(BATCH_TEXTS, together, small_batches):
        alone = LIME(tweets_model, n_evals=40).attribute(text)
        assert a.features == alone.features == tuple(text.split())
        assert a.cost.n_evals == b.cost.n_evals == alone.cost.n_evals <= 40
        # Only float32 rounding of logits in differently padded batches differs (~1e-6 of the logit scale).
        scale = np.abs(alone.values).max()
        np.testing.assert_allclose(a.values, alone.values, rtol=0, atol=1e-4 * scale)
        np.testing.assert_allclose(b.values, alone.values, rtol=0, atol=1e-4 * scale)
        assert a.diagnostics["r2"] == pytest.approx(alone.diagnostics["r2"], abs=1e-4)


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_evals": 2}, lumos.InvalidArgumentError, "The 'n_evals' parameter of LIME must be an int >= 3 and <= 1000000. Got 2."),
    ({"n_evals": 50.0}, lumos.InvalidTypeError, "The 'n_evals' parameter of LIME must be an int >= 3 and <= 1000000. Got 50.0."),
    ({"kernel_width": 0}, lumos.InvalidArgumentError, "The 'kernel_width' parameter of LIME must be a number > 0."),
    ({"alpha": -1.0}, lumos.InvalidArgumentError, "The 'alpha' parameter of LIME must be a number >= 0."),
])
def test_bad_settings_are_named(kwargs, error, message):
    """Bad settings raise at construction with a message naming the parameter, the bound and the value."""
    with pytest.raises(error, match=message.replace(".", r"\.").replace("(", r"\(")):
        LIME(linear_adapter(), masker=zero_masker(), **kwargs)


def test_least_squares_needs_more_samples_than_features():
    """With alpha=0 and fewer than n_features + 1 samples the fit is undetermined, and attribute says so."""
    method = LIME(linear_adapter(), masker=zero_masker(), alpha=0.0, n_evals=6)
    with pytest.raises(lumos.InvalidArgumentError, match=r"'n_evals' parameter of LIME must be >= "
                                                         r"n_features \+ 1 = 7 when alpha=0.*Got 6"):
        method.attribute(X, target=0)


def test_black_box_without_masker_is_told_to_pass_one():
    """A callable model has no default masker; LIME says to pass one rather than failing later."""
    with pytest.raises(lumos.InvalidArgumentError, match="has no default masker: pass masker="):
        LIME(linear_adapter())
