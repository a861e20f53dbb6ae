"""Gradient methods against closed-form answers: linear models, polynomials, and the quadrature rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import lumos
from lumos import GradientXInput, IntegratedGradients, Saliency, SmoothGrad, TorchAdapter
from lumos.attribution.integrated_gradients import RULES, quadrature

# A 3-class linear model on 4 features: f(x) = W x + b, weights exactly representable in float32.
W = np.array([[1.5, -2.0, 0.25, 3.0],
              [-0.5, 4.0, -1.0, 0.0],
              [2.0, 0.125, -3.5, -1.25]], dtype=np.float32)
B = np.array([0.5, -1.0, 0.75], dtype=np.float32)
X = np.array([[0.3, -1.7, 2.2, 0.9],
              [-2.5, 0.01, 1.3, -0.6]], dtype=np.float32)
TARGETS = [0, 2]


@pytest.fixture
def linear():
    module = nn.Linear(4, 3)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(W))
        module.bias.copy_(torch.from_numpy(B))
    return TorchAdapter(module, class_names=["a", "b", "c"], feature_names=["x0", "x1", "x2", "x3"])


def w_times_x() -> np.ndarray:
    """The exact products w_target * x in float64, one row per example."""
    return np.stack([W[t].astype(np.float64) * X[i].astype(np.float64) for i, t in enumerate(TARGETS)])


# -- linear models --------------------------------------------------------------------------------------
def test_saliency_is_absolute_weight(linear):
    """Saliency of a linear model is |w_target| for every input (the gradient is the weight row)."""
    explanations = Saliency(linear).attribute(X, target=TARGETS)
    for e, t in zip(explanations, TARGETS):
        np.testing.assert_array_equal(e.values, np.abs(W[t]))
        assert e.features == ("x0", "x1", "x2", "x3") and e.target == t


def test_signed_saliency_is_the_weight(linear):
    """With abs=False saliency of a linear model is w_target itself, signs kept."""
    explanations = Saliency(linear, abs=False).attribute(X, target=TARGETS)
    for e, t in zip(explanations, TARGETS):
        np.testing.assert_array_equal(e.values, W[t])
    assert explanations[0].params["abs"] is False


def test_gradient_x_input_is_weight_times_input(linear):
    """Gradient x Input of a linear model is w_target * x, to float32 rounding of the product."""
    explanations = GradientXInput(linear).attribute(X, target=TARGETS)
    for e, expected in zip(explanations, w_times_x()):
        # The product is formed in float32: one rounding, relative error <= 2**-24.
        np.testing.assert_allclose(e.values, expected, rtol=2 ** -23, atol=0)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("n_steps", [2, 7])
def test_integrated_gradients_of_linear_model_is_weight_times_input(linear, rule, n_steps):
    """IG from a zero baseline equals w * x for every quadrature rule, and completeness holds to float32
    rounding: the path gradient is constant, so only the weights' sum (1) matters."""
    explanations = IntegratedGradients(linear, n_steps=n_steps, method=rule).attribute(X, target=TARGETS)
    for i, (e, expected) in enumerate(zip(explanations, w_times_x())):
        # Weights sum to 1 up to a few float64 ulps; everything else is exact.
        np.testing.assert_allclose(e.values, expected, rtol=1e-13, atol=0)
        t = TARGETS[i]
        assert e.base_value == float(B[t])  # f(0) = b exactly
        exact = float(W[t].astype(np.float64) @ X[i].astype(np.float64) + B[t])
        scale = float(np.abs(expected).sum() + abs(B[t]))
        # f(x) is computed in float32: a handful of roundings of terms no larger than `scale`.
        assert abs(e.output_value - exact) <= 1e-6 * scale
        assert abs(e.convergence_delta) <= 1e-6 * scale
        assert e.convergence_delta == pytest.approx(e.values.sum() - (e.output_value - e.base_value), abs=1e-15)


def test_integrated_gradients_cost_counts_the_path(linear):
    """IG reports n_steps path evaluations plus the two ends per example."""
    e = IntegratedGradients(linear, n_steps=5).attribute(X[0], target=0)
    assert e.cost.n_evals == 5 + 2
    assert e.params == {"output": "logit", "baseline": "zero", "n_steps": 5, "method": "gausslegendre"}


def test_target_index_works_without_class_names():
    """A fresh as_adapter(module) without class_names accepts a target index on its first attribute call."""
    module = nn.Linear(4, 3)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(W))
    e = Saliency(lumos.as_adapter(module), abs=False).attribute(X[0], target=1)
    np.testing.assert_array_equal(e.values, W[1])


# -- polynomials ----------------------------------------------------------------------------------------
class Cubic(nn.Module):
    """Logits (x0^2 x1, 0): along the straight path from 0 the IG integrand is quadratic in alpha."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x[:, 0] ** 2 * x[:, 1]
        return torch.stack([f, torch.zeros_like(f)], dim=1)


POINTS = np.array([[1.5, -2.0, 7.0], [0.5, 3.0, -1.0]], dtype=np.float32)


def test_gauss_legendre_is_exact_for_a_polynomial_path():
    """For f = x0^2 x1 from a zero baseline IG is (2/3 f, 1/3 f, 0); two Gauss-Legendre points integrate the
    quadratic integrand exactly."""
    adapter = TorchAdapter(Cubic(), class_names=["f", "zero"])
    explanations = IntegratedGradients(adapter, n_steps=2, method="gausslegendre").attribute(POINTS, target=0)
    for e, x in zip(explanations, POINTS.astype(np.float64)):
        f = x[0] ** 2 * x[1]
        # float32 evaluation of alpha^2 x0 x1 at each node: relative error a few times 2**-24.
        np.testing.assert_allclose(e.values, [2 * f / 3, f / 3, 0.0], rtol=1e-6, atol=0)
        assert e.output_value == pytest.approx(f, rel=1e-6) and e.base_value == 0.0
        assert abs(e.convergence_delta) <= 1e-6 * abs(f)


def test_one_gauss_legendre_point_is_not_enough_for_a_quadratic_integrand():
    """With one point (the midpoint) the quadratic integrand alpha^2 is integrated as 1/4, not 1/3: the
    exactness above comes from the rule's degree, not from the function."""
    adapter = TorchAdapter(Cubic(), class_names=["f", "zero"])
    e = IntegratedGradients(adapter, n_steps=1).attribute(POINTS[0], target=0)
    f = float(POINTS[0, 0]) ** 2 * float(POINTS[0, 1])
    np.testing.assert_allclose(e.values[:2], [2 * f / 4, f / 4], rtol=1e-6)
    assert abs(e.convergence_delta) == pytest.approx(abs(f) / 4, rel=1e-6)


def test_gradient_methods_on_a_product_match_calculus():
    """For f = x0^2 x1: saliency is (2 x0 x1, x0^2, 0) and Gradient x Input is (2f, f, 0)."""
    adapter = TorchAdapter(Cubic(), class_names=["f", "zero"])
    x = POINTS[0].astype(np.float64)
    sal = Saliency(adapter, abs=False).attribute(POINTS[0], target=0)
    gxi = GradientXInput(adapter).attribute(POINTS[0], target=0)
    f = x[0] ** 2 * x[1]
    np.testing.assert_allclose(sal.values, [2 * x[0] * x[1], x[0] ** 2, 0.0], rtol=1e-6, atol=0)
    np.testing.assert_allclose(gxi.values, [2 * f, f, 0.0], rtol=1e-6, atol=0)


# -- quadrature -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("n", [2, 3, 8, 64])
def test_quadrature_weights_sum_to_one_and_points_lie_on_the_path(rule, n):
    """Every rule's weights sum to 1 and its points lie in [0, 1]."""
    alphas, weights = quadrature(rule, n)
    assert alphas.shape == weights.shape == (n,)
    assert abs(weights.sum() - 1.0) <= 1e-14
    assert np.all((alphas >= 0) & (alphas <= 1)) and np.all(weights > 0)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 16])
def test_gauss_legendre_integrates_polynomials_exactly(n):
    """n Gauss-Legendre points integrate alpha^k over [0, 1] exactly for every k <= 2n - 1."""
    alphas, weights = quadrature("gausslegendre", n)
    for k in range(2 * n):
        assert abs(weights @ alphas ** k - 1 / (k + 1)) <= 1e-14


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_gauss_legendre_error_at_degree_2n_is_the_textbook_remainder(n):
    """For alpha^(2n) the n-point rule misses by exactly (n!)^4 / ((2n+1) ((2n)!)^2), so the points and
    weights are the Gauss-Legendre ones and not merely some exact-enough rule."""
    alphas, weights = quadrature("gausslegendre", n)
    remainder = math.factorial(n) ** 4 / ((2 * n + 1) * math.factorial(2 * n) ** 2)
    assert 1 / (2 * n + 1) - weights @ alphas ** (2 * n) == pytest.approx(remainder, rel=1e-8)


@pytest.mark.parametrize("rule", ["riemann_middle", "riemann_trapezoid"])
def test_midpoint_and_trapezoid_integrate_linear_functions_exactly(rule):
    """Midpoint and trapezoid sums are exact for alpha, the left sum is not ((n-1)/2n)."""
    alphas, weights = quadrature(rule, 5)
    assert abs(weights @ alphas - 0.5) <= 1e-15
    left_alphas, left_weights = quadrature("riemann_left", 5)
    assert left_weights @ left_alphas == pytest.approx(4 / 10, abs=1e-15)


# -- probabilities --------------------------------------------------------------------------------------
@pytest.fixture
def mlp():
    gen = torch.Generator().manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    inputs = torch.randn(4, 5, generator=gen)
    return module, inputs


def test_probability_output_is_complete_on_an_mlp(mlp):
    """Explaining the target's probability, IG sums to p(x) - p(0); p is computed here independently."""
    module, inputs = mlp
    targets = [0, 1, 2, 0]
    adapter = TorchAdapter(module, class_names=["a", "b", "c"])
    explanations = IntegratedGradients(adapter, output="probability", n_steps=32).attribute(inputs.numpy(),
                                                                                            target=targets)
    with torch.no_grad():
        p_x = torch.softmax(module(inputs), -1).double()
        p_0 = torch.softmax(module(torch.zeros(1, 5)), -1).double()[0]
    for i, (e, t) in enumerate(zip(explanations, targets)):
        gap = float(p_x[i, t] - p_0[t])
        assert e.output == "probability"
        # Probabilities are float32 values <= 1: 1e-6 is about ten float32 ulps.
        assert abs(e.output_value - float(p_x[i, t])) <= 1e-6
        assert abs(e.base_value - float(p_0[t])) <= 1e-6
        assert abs(gap) > 0.01
        assert abs(e.values.sum() - gap) <= 1e-6
        np.testing.assert_allclose(e.prediction, p_x[i].numpy(), rtol=0, atol=1e-6)


def test_smoothgrad_without_noise_is_the_inner_method(linear):
    """SmoothGrad with noise_level=0 averages identical copies: it equals the method it smooths."""
    inner = GradientXInput(linear)
    smooth = SmoothGrad(inner, n_samples=3, noise_level=0.0).attribute(X, target=TARGETS)
    plain = inner.attribute(X, target=TARGETS)
    for s, p in zip(smooth, plain):
        np.testing.assert_array_equal(s.values, p.values)
        assert s.method == "smoothgrad" and s.params["inner"] == "gradient_x_input"


def test_vargrad_of_a_linear_model_is_zero(linear):
    """The gradient of a linear model does not depend on the input, so its variance under noise (VarGrad) is 0
    and its mean (SmoothGrad of saliency) is |w|."""
    vargrad = SmoothGrad(Saliency(linear), n_samples=4, noise_level=0.5, kind="vargrad").attribute(X, target=TARGETS)
    mean = SmoothGrad(Saliency(linear), n_samples=4, noise_level=0.5).attribute(X, target=TARGETS)
    for v, m, t in zip(vargrad, mean, TARGETS):
        np.testing.assert_array_equal(v.values, np.zeros(4))
        np.testing.assert_array_equal(m.values, np.abs(W[t]))


def test_smoothgrad_sq_of_gradient_x_input_adds_the_noise_variance(linear):
    """For a linear model, SmoothGrad-squared of w * (x + noise) equals mean(w * (x + noise))^2 + VarGrad."""
    def run(kind):
        return SmoothGrad(GradientXInput(linear), n_samples=6, noise_level=0.3, kind=kind, seed=3).attribute(
            X, target=TARGETS)

    sq, mean, var = (run(k) for k in ("smoothgrad_sq", "smoothgrad", "vargrad"))
    for s, m, v in zip(sq, mean, var):
        np.testing.assert_allclose(s.values, m.values ** 2 + v.values, rtol=1e-12, atol=1e-15)
        assert np.all(v.values > 0)  # the noise is real: w * x varies across samples
