"""Tabular adapters: scikit-learn estimators and MLPs on tables, with DataFrame column names kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import lumos
from lumos.models import SklearnAdapter


@pytest.fixture(scope="module")
def frame_and_tree():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.uniform(0, 1, 300), "noise": rng.uniform(0, 1, 300)})
    labels = (frame["age"] > 0.5).astype(int).to_numpy()
    tree = DecisionTreeClassifier(max_depth=1, random_state=0).fit(frame, labels)
    return frame, labels, tree


def test_as_adapter_finds_sklearn_and_names_columns(frame_and_tree):
    """as_adapter wraps an estimator fitted on a DataFrame; features and classes come from the estimator."""
    frame, _, tree = frame_and_tree
    adapter = lumos.as_adapter(tree, background=frame.iloc[:20])
    assert isinstance(adapter, SklearnAdapter)
    assert adapter.feature_names == ("age", "noise") and adapter.class_names == ("0", "1")
    rows, single = adapter.split_inputs(frame.iloc[:5])
    np.testing.assert_allclose(adapter.predict(rows), tree.predict_proba(frame.iloc[:5]))


def test_dataframe_columns_are_taken_by_name(frame_and_tree):
    """A DataFrame with its columns in another order gives the same predictions (columns matched by name)."""
    frame, _, tree = frame_and_tree
    adapter = SklearnAdapter(tree)
    a, _ = adapter.split_inputs(frame.iloc[:10])
    b, _ = adapter.split_inputs(frame.iloc[:10][["noise", "age"]])
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    with pytest.raises(lumos.InvalidArgumentError, match="lacks the columns"):
        adapter.split_inputs(frame[["noise"]])


def test_exact_shapley_on_a_tree_gives_zero_to_the_ignored_column(frame_and_tree):
    """The tree splits on 'age' only, so Shapley values of 'noise' are exactly 0 and efficiency holds."""
    frame, _, tree = frame_and_tree
    adapter = SklearnAdapter(tree, background=frame.iloc[:30])
    explanation = lumos.ExactShapley(adapter).attribute(frame.iloc[0].to_numpy())
    assert explanation.features == ("age", "noise")
    assert explanation.values[1] == 0.0
    assert abs(explanation.convergence_delta) < 1e-9


def test_missing_background_and_bad_estimator_are_clear_errors(frame_and_tree):
    """Without background rows a perturbation method says how to give them; a non-classifier is refused."""
    frame, labels, _ = frame_and_tree
    with pytest.raises(lumos.InvalidArgumentError, match="background"):
        lumos.Occlusion(SklearnAdapter(LogisticRegression().fit(frame, labels)))
    with pytest.raises(lumos.InvalidTypeError, match="predict_proba"):
        SklearnAdapter(object())
