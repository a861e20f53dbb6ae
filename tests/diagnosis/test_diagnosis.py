"""Error analysis: known answers for performance, calibration and slice discovery, and a real zoo run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

import lumos
from lumos.diagnosis import (calibration, confident_errors, describe_table, describe_texts, diagnose, find_slices,
                             performance)


@pytest.fixture(scope="module")
def planted():
    """A model that learnt y = [b > 0.5] exactly, scored on labels flipped where a > 0.75 (the planted failure)
    plus 3% random flips elsewhere."""
    rng = np.random.default_rng(1)
    n = 3000
    frame = pd.DataFrame({"a": rng.uniform(0, 1, n), "b": rng.uniform(0, 1, n), "c": rng.integers(0, 5, n)})
    clean = (frame["b"] > 0.5).to_numpy().astype(int)
    model = DecisionTreeClassifier(max_depth=1, random_state=0).fit(frame, clean)
    labels = clean.copy()
    failure = frame["a"].to_numpy() > 0.75
    labels[failure] = 1 - labels[failure]
    noise = ~failure & (rng.uniform(size=n) < 0.03)
    labels[noise] = 1 - labels[noise]
    return frame, labels, model, failure


def test_planted_failure_slice_is_found_first(planted):
    """The slice where labels were flipped comes first, with its size, error rate ~1 and a tiny p-value."""
    frame, labels, model, failure = planted
    result = diagnose(lumos.as_adapter(model, background=frame.iloc[:10]), frame, labels, method=None)
    first = result.slices[0]
    jaccard = (first.rows & failure).sum() / (first.rows | failure).sum()
    assert jaccard > 0.98, first.description
    assert first.conditions[0].startswith("a >")
    assert first.error_rate == pytest.approx(1.0)
    global_rate = 1 - result.performance.accuracy
    assert first.lift == pytest.approx(1.0 / global_rate)
    assert first.p_value < 1e-50
    # No reported slice is a sub-slice of the planted one (excess errors prefer the whole slice).
    assert all(not (s.rows <= failure).all() for s in result.slices[1:])


def test_no_slice_when_errors_are_uniform():
    """Errors spread at random over rows give no significant slice."""
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"a": rng.uniform(size=2000), "b": rng.integers(0, 3, 2000)})
    errors = rng.uniform(size=2000) < 0.1
    assert find_slices(frame, errors) == []


def test_performance_on_a_hand_made_confusion():
    """Confusion rows are true classes, columns predictions; precision, recall and F1 follow by hand."""
    probs = np.eye(2)[[0, 0, 1, 1, 1]]
    labels = np.array([0, 1, 1, 1, 0])
    perf = performance(probs, labels, ["no", "yes"])
    np.testing.assert_array_equal(perf.confusion, [[1, 1], [1, 2]])
    assert perf.accuracy == pytest.approx(3 / 5)
    yes = perf.per_class[1]
    assert (yes["precision"], yes["recall"]) == pytest.approx((2 / 3, 2 / 3))
    assert yes["f1"] == pytest.approx(2 / 3)


def test_ece_of_an_overconfident_model_is_the_gap():
    """Every prediction at confidence 0.9 with accuracy 0.6: ECE = MCE = 0.3, all rows in one bin."""
    probs = np.tile([0.9, 0.1], (10, 1))
    labels = np.array([0] * 6 + [1] * 4)
    cal = calibration(probs, labels, n_bins=10)
    assert cal.ece == pytest.approx(0.3) and cal.mce == pytest.approx(0.3)
    assert cal.counts.sum() == 10 and cal.counts[8] == 10  # 0.9 lies in (0.8, 0.9]


def test_ece_of_a_calibrated_model_is_small():
    """Labels drawn with the predicted probabilities give an ECE near 0 (sampling noise only)."""
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 50_000)
    labels = (rng.uniform(size=p.size) < p).astype(int)
    cal = calibration(np.stack([1 - p, p], 1), labels, n_bins=10)
    assert cal.ece < 0.01
    skewed = calibration(np.stack([1 - p, p], 1) ** 0.3 / (np.stack([1 - p, p], 1) ** 0.3).sum(1, keepdims=True),
                         labels)
    assert skewed.ece > 0.1  # flattened probabilities are under-confident


def test_reliability_diagram_draws(tmp_path):
    """The reliability diagram renders to a file."""
    from lumos.diagnosis import plot_reliability

    cal = calibration(np.tile([0.8, 0.2], (5, 1)), np.array([0, 0, 0, 1, 1]))
    ax = plot_reliability(cal)
    ax.figure.savefig(tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_bad_arguments_name_themselves():
    """Bad shapes and settings raise errors naming the argument."""
    with pytest.raises(lumos.InvalidArgumentError, match="'labels'"):
        calibration(np.ones((3, 2)) / 2, np.array([0, 1]))
    with pytest.raises(lumos.InvalidArgumentError, match="'strategy'"):
        calibration(np.ones((3, 2)) / 2, np.array([0, 1, 0]), strategy="equal")
    with pytest.raises(lumos.InvalidArgumentError, match="'max_conditions'"):
        find_slices(pd.DataFrame({"a": [1, 2]}), [True, False], max_conditions=5)


def test_confident_errors_are_explained_for_the_predicted_class(planted):
    """The most confident mistakes come in decreasing confidence, explained for the class predicted."""
    frame, labels, model, _ = planted
    adapter = lumos.as_adapter(model, background=frame.iloc[:10])
    probs = adapter.predict(adapter.split_inputs(frame.iloc[:300])[0])
    worst = confident_errors(adapter, adapter.split_inputs(frame.iloc[:300])[0], labels[:300], probs, k=3)
    assert len(worst) == 3
    assert [w.confidence for w in worst] == sorted([w.confidence for w in worst], reverse=True)
    for w in worst:
        assert w.label != w.predicted and w.explanation.target_label == w.predicted
        assert w.explanation.features == ("a", "b", "c")
        assert abs(w.explanation.values[0]) < 1e-12  # the tree never looks at 'a'


def test_text_descriptors_and_real_tweets(tweets_model):
    """On held-out tweets, descriptors include length, frequent words, predicted class and confidence band;
    diagnose finishes and reports an ECE in [0, 1]."""
    data = lumos.zoo.dataset("airline-tweets").test
    texts, labels = list(data.texts[:150]), data.labels[:150]
    d = describe_texts(texts, top_words=5, metadata={"source": ["x"] * 150})
    assert "length (words)" in d.columns and sum(c.startswith("has '") for c in d.columns) == 5
    result = diagnose(tweets_model, texts, labels, n_errors=1)
    assert 0 <= result.calibration.ece <= 1
    assert {"predicted", "confidence"} <= set(result.descriptors.columns)
    assert result.confident_errors[0].explanation.text == texts[result.confident_errors[0].index]
