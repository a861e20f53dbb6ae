"""ExplanationSet interop: a tidy pandas frame, Parquet round trips, and shap.Explanation both ways (shap's plots
draw from it), on the zoo's diabetes regressor and a scikit-learn model explained by shap itself."""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

import lumos
from lumos import ExactShapley, ExplanationSet, IntegratedGradients


@pytest.fixture(scope="module")
def diabetes():
    return lumos.zoo.dataset("diabetes")


@pytest.fixture(scope="module")
def shapley_set(diabetes):
    model = lumos.zoo.load("diabetes-linear")
    return ExactShapley(model).attribute(diabetes.test.X[:4])


def test_to_pandas_is_one_row_per_feature_and_pivots_back(shapley_set, diabetes):
    """to_pandas has one row per (explanation, feature) whose values, pivoted, are the explanations' values."""
    df = shapley_set.to_pandas()
    assert len(df) == 4 * 10 and set(df["method"]) == {"exact_shapley"} and set(df["output"]) == {"value"}
    wide = df.pivot(index="example", columns="feature", values="value")[list(diabetes.feature_names)]
    np.testing.assert_array_equal(wide.to_numpy(), np.stack([e.values for e in shapley_set]))
    np.testing.assert_array_equal(df.groupby("example")["base_value"].first(), [e.base_value for e in shapley_set])


def test_parquet_round_trip_is_exact_and_readable_by_pyarrow(shapley_set, tmp_path):
    """to_parquet then from_parquet gives the same set; the file's typed columns hold the values for other tools."""
    import pyarrow.parquet as pq

    path = shapley_set.to_parquet(tmp_path / "set.parquet")
    assert ExplanationSet.from_parquet(path) == shapley_set
    table = pq.read_table(path)
    assert table.column("values").to_pylist()[2] == shapley_set[2].values.tolist()
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file, then renamed
    with pytest.raises(lumos.InvalidArgumentError, match="directory"):
        shapley_set.to_parquet(tmp_path)
    with pytest.raises(lumos.InvalidArgumentError, match="No file"):
        ExplanationSet.from_parquet(tmp_path / "missing.parquet")


def test_to_shap_values_and_plots(shapley_set, diabetes):
    """to_shap gives a shap.Explanation with the values, base values and feature names, and shap's bar and
    waterfall plots draw it."""
    import matplotlib.pyplot as plt
    import shap

    sx = shapley_set.to_shap(data=diabetes.test.X[:4])
    assert isinstance(sx, shap.Explanation) and sx.values.shape == (4, 10)
    assert list(sx.feature_names) == list(diabetes.feature_names)
    np.testing.assert_array_equal(sx.base_values, [e.base_value for e in shapley_set])
    shap.plots.bar(sx, show=False)
    plt.close("all")
    shap.plots.waterfall(sx[0], show=False)
    assert plt.gcf().axes  # something was drawn
    plt.close("all")


def test_from_shap_of_shaps_own_explainer_equals_lumos_exact_shapley(diabetes):
    """shap's LinearExplainer values, imported with from_shap, equal lumos's exact interventional Shapley values
    on the same model and background (both are coef * (x - mean(background)))."""
    import shap

    X, y = diabetes.train.frame, diabetes.train.labels
    estimator = LinearRegression().fit(X, y)
    background = X.iloc[:25]
    theirs = shap.LinearExplainer(estimator, background)(diabetes.test.frame.iloc[:3])
    imported = ExplanationSet.from_shap(theirs, method="shap_linear", output_names=["progression"])
    ours = ExactShapley(lumos.as_adapter(estimator, background=background)).attribute(diabetes.test.X[:3])
    for a, b in zip(imported, ours):
        assert a.features == b.features and a.method == "shap_linear"
        np.testing.assert_allclose(a.values, b.values, atol=1e-8)
        assert a.output_value == pytest.approx(b.output_value, abs=1e-8)
    back = ExplanationSet.from_shap(ours.to_shap())
    np.testing.assert_array_equal(np.stack([e.values for e in back]), np.stack([e.values for e in ours]))


def test_to_shap_of_explanations_of_different_lengths_is_ragged():
    """Explanations with different features (texts of different lengths) become per-row arrays."""
    a = lumos.Explanation(values=[1.0, 2.0], features=["a", "b"], target=0, prediction=[1.0], class_names=["y"],
                          method="m", base_value=0.5)
    b = lumos.Explanation(values=[3.0], features=["c"], target=0, prediction=[1.0], class_names=["y"], method="m")
    sx = ExplanationSet([a, b]).to_shap()
    assert list(sx.values[0]) == [1.0, 2.0] and list(sx.values[1]) == [3.0]
    assert sx.base_values[0] == 0.5 and np.isnan(sx.base_values[1])


def test_missing_shap_is_a_clear_error(shapley_set, monkeypatch):
    """Without shap installed, to_shap raises a LumosError saying how to install it."""
    monkeypatch.setitem(sys.modules, "shap", None)  # what Python does for a package that cannot be imported
    with pytest.raises(lumos.LumosError, match="pip install shap"):
        shapley_set.to_shap()


def test_to_pandas_of_two_dimensional_values_has_a_row_per_target():
    """An explanation with a values matrix (targets x features) gives one block of rows per target row, with its
    label and its own output value."""
    e = lumos.Explanation(values=[[1.0, 0.0], [0.5, -0.5]], features=["a", "b"], targets=["t0", "t1"], target=0,
                          prediction=[0.2, 0.3], class_names=["t0", "t1"], method="ig",
                          output_value=[1.5, -2.0])
    df = ExplanationSet([e]).to_pandas()
    assert list(df["target_row"]) == [0, 0, 1, 1] and list(df["target_label"]) == ["t0", "t0", "t1", "t1"]
    assert list(df["value"]) == [1.0, 0.0, 0.5, -0.5] and list(df["output_value"]) == [1.5, 1.5, -2.0, -2.0]


def test_from_shap_of_several_outputs_reads_the_chosen_one():
    """A shap.Explanation with several outputs (n, features, outputs) is read at output 'target'; a target out of
    range is a clear error."""
    import shap

    values = np.arange(12, dtype=float).reshape(2, 3, 2)
    sx = shap.Explanation(values=values, base_values=np.array([[1.0, 2.0], [3.0, 4.0]]),
                          feature_names=["a", "b", "c"])
    got = ExplanationSet.from_shap(sx, target=1)
    np.testing.assert_array_equal(got[1].values, values[1, :, 1])
    assert got[1].base_value == 4.0 and got[1].output_value == 4.0 + values[1, :, 1].sum()
    with pytest.raises(lumos.InvalidArgumentError, match=r"output index in \[0, 1\]"):
        ExplanationSet.from_shap(sx, target=2)
