"""Regression models: real-valued outputs explained as output='value' by every method whose mathematics allows it,
with closed-form answers on linear models and clear errors where probabilities would be needed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LinearRegression
from torch import nn

import lumos
from lumos import (ExactShapley, GradientXInput, IntegratedGradients, KernelSHAP, LIME, Occlusion, Saliency,
                   SmoothGrad, TabularTorchAdapter)
from lumos.maskers import TabularMasker
from lumos.metrics import faithfulness


@pytest.fixture(scope="module")
def diabetes():
    return lumos.zoo.dataset("diabetes")


@pytest.fixture(scope="module")
def linear():
    return lumos.zoo.load("diabetes-linear")


@pytest.fixture(scope="module")
def mlp():
    return lumos.zoo.load("diabetes-mlp", progress=False)


def _weights(adapter) -> np.ndarray:
    return adapter.module.linear.weight.detach().double().numpy()[0]


def test_zoo_regressors_are_listed_and_declare_their_task(linear, mlp):
    """The diabetes models are zoo entries, declare task 'regressor' with one named output, and predict well."""
    assert {"diabetes-linear", "diabetes-mlp"} <= set(lumos.zoo.names())
    for adapter in (linear, mlp):
        assert adapter.task == "regressor" and adapter.output_kind == "values"
        assert adapter.output_names == ("progression",) and adapter.n_outputs == 1
        assert adapter.card["test_r2"] > 0.4  # about 0.49 / 0.52 on the held-out split
    assert linear.dtype == torch.float64


def test_integrated_gradients_on_a_linear_regressor_is_w_times_x_minus_baseline(linear, diabetes):
    """IG of a linear model from the zero baseline is w * (x - 0) to float64 precision, and complete."""
    x = diabetes.test.X[:3]
    explanations = IntegratedGradients(linear, n_steps=8).attribute(x)
    w = _weights(linear)
    for e, row in zip(explanations, x):
        assert e.output == "value" and e.target_label == "progression"
        np.testing.assert_allclose(e.values, w * row, rtol=1e-12, atol=1e-12)
        assert abs(e.convergence_delta) < 1e-10
        assert e.output_value == pytest.approx(linear.predict([row])[0, 0], abs=1e-12)


def test_exact_shapley_interventional_on_a_linear_regressor_is_w_times_x_minus_baseline(linear, diabetes):
    """Interventional exact Shapley with a baseline row b is w * (x - b), in float64 (no float32 rounding);
    with several background rows, w * (x - mean(b))."""
    x = diabetes.test.X[0]
    w = _weights(linear)
    one = diabetes.train.X[:1]
    e = ExactShapley(linear, masker=TabularMasker(one)).attribute(x)
    np.testing.assert_allclose(e.values, w * (x - one[0]), rtol=1e-12, atol=1e-12)
    many = diabetes.train.X[:20]
    e = ExactShapley(linear, masker=TabularMasker(many)).attribute(x)
    np.testing.assert_allclose(e.values, w * (x - many.mean(0)), rtol=1e-10, atol=1e-10)
    assert e.base_value == pytest.approx(float(linear.predict(list(many))[:, 0].mean()), abs=1e-10)


def test_every_method_explains_the_mlp_value(mlp, diabetes):
    """Gradient and perturbation methods explain the MLP's predicted value; complete methods sum to the gap."""
    rows = diabetes.test.frame.iloc[:2]
    predicted = mlp.predict(mlp.split_inputs(rows)[0])[:, 0]
    methods = [IntegratedGradients(mlp, n_steps=64), Saliency(mlp), GradientXInput(mlp), SmoothGrad(mlp, n_samples=4),
               Occlusion(mlp), LIME(mlp, n_evals=64), KernelSHAP(mlp, n_evals=256), ExactShapley(mlp)]
    for method in methods:
        explanations = method.attribute(rows)
        for e, value in zip(explanations, predicted):
            assert e.output == "value" and e.features == diabetes.feature_names, method.name
            assert np.all(np.isfinite(e.values)) and np.any(e.values != 0), method.name
            assert e.prediction[0] == pytest.approx(value, rel=1e-5), method.name
            if e.output_value is not None:
                assert e.output_value == pytest.approx(value, rel=1e-5), method.name
        if method.complete:
            assert max(abs(e.convergence_delta) for e in explanations) < 1e-3 * np.abs(predicted).max(), method.name


def test_faithfulness_reads_the_predicted_value(mlp, diabetes):
    """Faithfulness on a regressor reads the predicted value by default: the curve starts at the prediction."""
    x = diabetes.test.X[:2]
    explanations = ExactShapley(mlp).attribute(x)
    results = faithfulness(mlp, explanations, inputs=list(x))
    for r, e in zip(results, explanations):
        assert r.full == pytest.approx(e.output_value, rel=1e-6)
        assert r.empty == pytest.approx(e.base_value, rel=1e-6)


def test_probabilities_of_a_regressor_are_clear_errors(mlp, diabetes):
    """Quantities that need class probabilities are refused on a regressor with a LumosError naming 'value'."""
    with pytest.raises(lumos.InvalidArgumentError, match="must be 'value' for the regressor 'diabetes-mlp'"):
        IntegratedGradients(mlp, output="probability")
    with pytest.raises(lumos.InvalidArgumentError, match="must be 'value'"):
        Occlusion(mlp, output="logit")
    with pytest.raises(lumos.InvalidArgumentError, match="must be 'value'"):
        faithfulness(mlp, ExactShapley(mlp).attribute(diabetes.test.X[0]), inputs=[diabetes.test.X[0]],
                     output="probability")
    with pytest.raises(lumos.UnsupportedModelError, match="regressor"):
        mlp.predict_proba(list(diabetes.test.X[:1]))
    with pytest.raises(lumos.InvalidArgumentError, match="no probabilities"):
        lumos.Readout(0, "probability").apply(np.zeros((1, 1)), kind="values")


def test_sklearn_regressor_with_several_outputs(diabetes):
    """A multi-output scikit-learn regressor: each output is a target by index or name, and exact Shapley of a
    linear one is coef[target] * (x - mean(background))."""
    X, y = diabetes.train.frame, diabetes.train.labels
    estimator = LinearRegression().fit(X, np.column_stack([y, -2 * y + 1]))
    background = X.iloc[:10]
    adapter = lumos.as_adapter(estimator, background=background, output_names=["progression", "twisted"])
    assert type(adapter).__name__ == "SklearnRegressorAdapter" and adapter.output_names == ("progression", "twisted")
    x = diabetes.test.X[0]
    for target in (0, "twisted"):
        e = ExactShapley(adapter).attribute(x, target=target)
        t = adapter.resolve_target(target)
        np.testing.assert_allclose(e.values, estimator.coef_[t] * (x - background.to_numpy().mean(0)), atol=1e-9)
        assert e.target == t and e.prediction.shape == (2,)
    with pytest.raises(lumos.InvalidArgumentError, match="an output index in \\[0, 1\\]"):
        ExactShapley(adapter).attribute(x, target=2)


def test_torch_scalar_head_and_float64_rows():
    """A torch module with a scalar head (B,) is a one-output regressor; a float64 model gets float64 rows from
    the adapter and from TabularMasker, so its explanation keeps float64 precision."""
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 1, dtype=torch.float64), nn.Flatten(0))
    w = module[0].weight.detach().numpy()[0]
    background = np.array([[0.1, 0.2, 0.3]])
    adapter = TabularTorchAdapter(module, task="regressor", background=background)
    assert adapter.output_names == ("value",)
    x = np.array([1e-3 + 1e-9, 2.0 / 3.0, -5.0])
    rows, _ = adapter.split_inputs(x)
    assert rows[0].dtype == np.float64
    prepared = adapter.default_masker().prepare(rows[0])
    assert adapter.default_masker().apply(prepared, np.array([[True, False, True]]))[0].dtype == np.float64
    e = ExactShapley(adapter).attribute(x)
    np.testing.assert_allclose(e.values, w * (x - background[0]), rtol=1e-14, atol=1e-15)


def test_agreement_and_randomization_run_on_a_regressor(mlp, diabetes):
    """Metrics built on methods work on the MLP regressor: IG agrees with exact Shapley in rank, and its
    explanations change when the model's weights are randomized."""
    from lumos.metrics import model_randomization, rank_agreement

    x = diabetes.test.X[:3]
    ig = IntegratedGradients(mlp, n_steps=32)
    agreement = rank_agreement(ig.attribute(x), ExactShapley(mlp).attribute(x))
    assert np.all(agreement > 0.5)
    result = model_randomization(ig, x)
    assert result.passed and result.final < 0.9
