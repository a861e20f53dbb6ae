"""Global explanations: permutation importance, aggregated local importance and surrogate trees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import lumos
from lumos.global_ import SurrogateTree, aggregate_importance, permutation_importance


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"signal": rng.normal(size=1500), "other": rng.normal(size=1500),
                          "ignored": rng.normal(size=1500)})
    labels = ((frame["signal"] + 0.5 * frame["other"]) > 0).astype(int).to_numpy()
    return frame, labels


def test_ignored_feature_has_zero_importance_within_its_interval(table):
    """A model that never reads 'ignored' loses nothing when it is shuffled; 'signal' matters most."""
    frame, labels = table
    model = LogisticRegression().fit(frame[["signal", "other"]].assign(ignored=0.0), labels)
    result = permutation_importance(model, frame, labels, n_repeats=5)
    i = result.features.index("ignored")
    np.testing.assert_array_equal(result.drops[i], 0.0)
    assert result.low[i] <= 0.0 <= result.high[i]
    assert result.ranked()[0][0] == "signal" and result.low[result.features.index("signal")] > 0.1


def test_log_likelihood_metric_and_interval_width(table):
    """The t interval shrinks with more repeats; log-likelihood drops are positive for a used feature."""
    frame, labels = table
    model = LogisticRegression().fit(frame, labels)
    few = permutation_importance(model, frame, labels, n_repeats=3, metric="log_likelihood", seed=1)
    many = permutation_importance(model, frame, labels, n_repeats=20, metric="log_likelihood", seed=1)
    j = few.features.index("other")
    assert few.mean[j] > 0 and (many.high[j] - many.low[j]) < (few.high[j] - few.low[j])


def test_surrogate_of_a_shallow_tree_has_fidelity_one(table):
    """A depth-2 tree is imitated exactly by a depth-3 surrogate: fidelity 1.0 on held-out rows."""
    frame, labels = table
    model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(frame.iloc[:1000], labels[:1000])
    surrogate = SurrogateTree(model, max_depth=3).fit(frame.iloc[:1000])
    assert surrogate.fidelity(frame.iloc[1000:]) == 1.0
    path = surrogate.path(frame.iloc[1000])
    assert len(path) >= 2 and all(step.split(" ")[0] in {"signal", "other"} for step in path[:-1])
    predicted = model.predict(frame.iloc[[1000]])[0]
    assert path[-1].startswith(f"-> {predicted} ")
    assert "signal" in surrogate.rules()


def test_surrogate_of_a_smooth_model_is_imperfect_and_measured(table):
    """A depth-1 surrogate cannot reproduce an oblique boundary: fidelity is below 1 but above chance."""
    frame, labels = table
    model = LogisticRegression().fit(frame, labels)
    fidelity = SurrogateTree(model, max_depth=1).fit(frame.iloc[:1000]).fidelity(frame.iloc[1000:])
    assert 0.6 < fidelity < 1.0


def test_aggregate_importance_is_mean_absolute_value_per_class():
    """Mean |value| overall and per explained class, computed by hand."""
    def make(values, target):
        return lumos.Explanation(values=values, features=("a", "b"), target=target, prediction=[0.5, 0.5],
                                 class_names=("no", "yes"), method="occlusion")

    g = aggregate_importance([make([1.0, -2.0], 0), make([-3.0, 0.0], 1), make([1.0, 2.0], 1)])
    assert g.overall["a"] == pytest.approx((5 / 3, -1 / 3, 3))
    assert g.per_class["yes"]["b"] == pytest.approx((1.0, 1.0, 2))
    assert g.top(1)[0][0] == "a"
    with pytest.raises(lumos.InvalidArgumentError, match="'cls'"):
        g.top(cls="maybe")


def test_zoo_mlp_gradients_aggregate_by_column():
    """Integrated Gradients over breast-cancer test rows aggregate to 30 named columns."""
    adapter = lumos.zoo.load("breast-cancer-mlp")
    data = lumos.zoo.dataset("breast-cancer")
    g = aggregate_importance(lumos.IntegratedGradients(adapter).attribute(data.test.frame.iloc[:10]))
    assert len(g.overall) == 30 and g.n_explanations == 10 and "mean radius" in g.overall


def test_text_surrogate_splits_on_words_and_reports_fidelity(tweets_model):
    """On tweets, the surrogate splits on word presence; its paths read as words, fidelity is above chance."""
    data = lumos.zoo.dataset("airline-tweets")
    tree = SurrogateTree(tweets_model, max_depth=3, n_words=100).fit(list(data.train.texts[:300]))
    assert len(tree.vocabulary_) == 100 and all(n.startswith("has '") for n in tree.feature_names)
    test = list(data.test.texts[:150])
    fidelity = tree.fidelity(test)
    majority = np.bincount(tree.model_predictions(test)).max() / len(test)
    assert majority <= fidelity <= 1.0
    path = tree.path(test[0])
    assert all(step.startswith(("has '", "no '")) for step in path[:-1]) and path[-1].startswith("-> ")
    with pytest.raises(lumos.InvalidArgumentError, match="not fitted yet"):
        SurrogateTree(tweets_model).path("late again")
