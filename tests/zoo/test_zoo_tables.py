"""The tabular zoo: breast cancer (boosting and MLP) and credit scoring, read without unpickling."""

from __future__ import annotations

import numpy as np
import pytest

import lumos
from lumos.zoo.rdata import read_rdataset


def test_credit_data_is_read_without_unpickling():
    """The shipped credit table has 4454 rows, 14 columns and the documented missing values."""
    raw = read_rdataset("modeldata", "credit_data")
    assert raw.shape == (4454, 15)
    assert raw["Status"].isin(["good", "bad"]).all()
    assert int(raw["Income"].isna().sum()) == 381 and int(raw["Assets"].isna().sum()) == 47


def test_credit_features_have_no_missing_values_and_keep_indicators():
    """Encoded credit features are complete; an imputed income is flagged by Income_missing."""
    data = lumos.zoo.dataset("credit")
    frame = data.train.frame
    assert not frame.isna().any().any()
    assert "Income_missing" in frame.columns and frame["Income_missing"].sum() > 0
    assert len(data.train) + len(data.validation) + len(data.test) == 4454


@pytest.mark.parametrize("name", ["breast-cancer-gbm", "credit-scoring"])
def test_boosting_models_are_deterministic_and_accurate(name):
    """Retraining from the seed gives identical probabilities; held-out accuracy beats the majority class."""
    a, b = lumos.zoo.load(name), lumos.zoo.load(name)
    data = lumos.zoo.dataset(a.card["dataset"])
    rows, _ = a.split_inputs(data.test.frame)
    np.testing.assert_array_equal(a.predict(rows), b.predict(rows))
    majority = max(np.mean(data.test.labels), 1 - np.mean(data.test.labels))
    assert a.card["test_accuracy"] > majority


def test_mlp_runs_gradient_methods_with_column_names():
    """Integrated Gradients on the MLP names columns and converges with enough steps."""
    adapter = lumos.zoo.load("breast-cancer-mlp")
    data = lumos.zoo.dataset("breast-cancer")
    assert adapter.card["test_accuracy"] > 0.9
    e = lumos.IntegratedGradients(adapter, n_steps=256).attribute(data.test.frame.iloc[0])
    assert e.features[0] == "mean radius"
    assert abs(e.convergence_delta) < 0.05 * abs(e.output_value - e.base_value)
