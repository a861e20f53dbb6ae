"""ExactShapley and KernelSHAP: closed-form Shapley values of hand-built games, a brute-force permutation
check, efficiency, exactness at full budget, convergence, determinism, batching, standard errors, errors
for bad input, and the zoo model end to end."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import lumos
from lumos import CallableAdapter, ExactShapley, KernelSHAP
from lumos.attribution.exact_shapley import shapley_from_table
from lumos.attribution.kernel_shap import _KernelRidge, min_evals
from lumos.maskers import TabularMasker


def game(f) -> CallableAdapter:
    """A two-class logit model whose class-1 logit is ``f(rows)`` (rows of shape (m, n)), class 0 its negative."""

    def predict(rows):
        z = f(np.asarray(rows, dtype=np.float64))
        return np.stack([-z, z], axis=1)

    return CallableAdapter(predict, class_names=["no", "yes"], output_kind="logits")


def zero_masker(n: int) -> TabularMasker:
    """Hidden features become 0, so with the model of :func:`game`, ``v(S) = f(x_S, 0)``."""
    return TabularMasker(np.zeros((1, n)))


def codes(z: np.ndarray) -> np.ndarray:
    """Coalition number of each 0/1 row (bit i = feature i)."""
    return (np.asarray(z) > 0.5).astype(np.int64) @ (1 << np.arange(z.shape[1], dtype=np.int64))


def table_game(table: np.ndarray) -> CallableAdapter:
    """Any game, given as its value on every coalition: explain ``x = ones(n)`` against zeros."""
    return game(lambda z: table[codes(z)])


def all_coalitions(n: int) -> np.ndarray:
    return ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(np.float64)


def brute_force_shapley(table: np.ndarray, n: int) -> np.ndarray:
    """Shapley values as the mean marginal contribution over all n! orders of the features."""
    phi = np.zeros(n)
    for order in itertools.permutations(range(n)):
        coalition = 0
        for i in order:
            phi[i] += table[coalition | (1 << i)] - table[coalition]
            coalition |= 1 << i
    return phi / math.factorial(n)


def smooth_game(n: int = 10, seed: int = 7) -> np.ndarray:
    """A game with interactions of every order: a saturating function of main and pairwise effects."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), np.triu(rng.normal(size=(n, n)), 1)
    z = all_coalitions(n)
    return 3.0 * np.tanh(0.5 * z @ a + 0.5 * ((z @ b) * z).sum(1))


def relative_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


# Inputs exact in float32 (TabularMasker stores float32), so the games below are evaluated exactly.
X = np.array([0.5, -1.75, 2.25, 0.75, 1.0, -2.0])
W = np.array([1.5, -2.0, 0.25, 3.0, -0.5, 0.75])
METHODS = [pytest.param(lambda a, **k: ExactShapley(a, **k), id="exact"),
           pytest.param(lambda a, **k: KernelSHAP(a, n_evals=30, **k), id="kernel_shap")]


# -- closed-form answers on hand-built games ------------------------------------------------------------
@pytest.mark.parametrize("make", METHODS)
def test_additive_game_gets_weight_times_input(make):
    """On an additive game each feature gets w_i x_i, exactly, also when KernelSHAP samples (30 of 64)."""
    adapter = game(lambda z: 0.5 + z @ W)
    e = make(adapter, masker=zero_masker(6)).attribute(X, target=1)
    np.testing.assert_allclose(e.values, W * X, rtol=0, atol=1e-12)
    assert e.output_value == pytest.approx(0.5 + W @ X, abs=1e-12)
    assert e.base_value == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("make", [
    pytest.param(lambda a, **k: ExactShapley(a, **k), id="exact"),
    pytest.param(lambda a, **k: KernelSHAP(a, n_evals=30, surrogate=False, **k), id="kernel_shap_plain_sampled"),
    pytest.param(lambda a, **k: KernelSHAP(a, n_evals=64, **k), id="kernel_shap_full_budget"),
])
def test_pure_interaction_is_split_equally(make):
    """A pure interaction 4 x0 x1 gives half of its value to each of the two features and nothing to others."""
    x = np.array([1.5, 2.0, -1.0, 0.5, 3.0, 1.0])
    e = make(game(lambda z: 4.0 * z[:, 0] * z[:, 1]), masker=zero_masker(6)).attribute(x, target=1)
    np.testing.assert_allclose(e.values, [6.0, 6.0, 0.0, 0.0, 0.0, 0.0], rtol=0, atol=1e-12)


def test_dummy_feature_gets_zero():
    """A feature the model ignores gets exactly 0, however much the others interact."""
    adapter = game(lambda z: np.tanh(z[:, 0] * z[:, 1] - z[:, 2]) * z[:, 3] + z[:, 0] ** 2)
    e = ExactShapley(adapter, masker=zero_masker(5)).attribute(np.array([1.5, -2.0, 0.5, 3.0, 7.0]), target=1)
    assert e.values[4] == 0.0
    assert abs(e.convergence_delta) < 1e-12


def test_symmetric_features_get_equal_values():
    """Two features that play the same role (equal inputs, symmetric model) get the same value."""
    adapter = game(lambda z: (z[:, 0] + z[:, 1]) ** 2 * z[:, 2] - z[:, 0] * z[:, 1] * z[:, 3])
    e = ExactShapley(adapter, masker=zero_masker(4)).attribute(np.array([1.25, 1.25, -0.5, 2.0]), target=1)
    assert e.values[0] == pytest.approx(e.values[1], abs=1e-12)
    assert abs(e.values[0] - e.values[2]) > 0.1  # the check is not vacuous


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_exact_equals_brute_force_over_permutations(n):
    """On a random game (any value on every coalition) ExactShapley equals the mean marginal contribution over
    all n! orders, and costs exactly 2^n evaluations."""
    table = np.random.default_rng(n).normal(size=2 ** n)
    e = ExactShapley(table_game(table), masker=zero_masker(n)).attribute(np.ones(n), target=1)
    np.testing.assert_allclose(e.values, brute_force_shapley(table, n), rtol=0, atol=1e-12)
    assert e.cost.n_evals == 2 ** n
    assert e.stderr is None and e.method == "exact_shapley"


def test_table_formula_equals_brute_force_on_eight_features():
    """The vectorised formula behind ExactShapley equals the permutation definition on 8 features."""
    table = np.random.default_rng(8).normal(size=2 ** 8)
    np.testing.assert_allclose(shapley_from_table(table, 8), brute_force_shapley(table, 8), rtol=0, atol=1e-12)


def test_plain_kernel_shap_is_exact_on_games_of_order_two():
    """Paired sampling makes the regression exact, at any budget, on games with interactions of order <= 2."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=10), np.triu(rng.normal(size=(10, 10)), 1)
    table = all_coalitions(10) @ a + ((all_coalitions(10) @ b) * all_coalitions(10)).sum(1)
    truth = shapley_from_table(table, 10)
    for n_evals in (22, 60, 300):
        e = KernelSHAP(table_game(table), masker=zero_masker(10), n_evals=n_evals, surrogate=False
                       ).attribute(np.ones(10), target=1)
        np.testing.assert_allclose(e.values, truth, rtol=0, atol=1e-9)
        assert e.diagnostics["fraction_evaluated"] < 0.3


# -- KernelSHAP: efficiency, exactness, convergence -----------------------------------------------------
@pytest.mark.parametrize("surrogate", [True, False])
def test_efficiency_holds_exactly_at_every_budget(surrogate):
    """The values sum to v(all) - v(none) to 1e-9 (relative) at every budget, odd ones included."""
    table = smooth_game()
    gap = table[-1] - table[0]
    for n_evals in (22, 23, 40, 101, 300, 1000, 5000):
        e = KernelSHAP(table_game(table), masker=zero_masker(10), n_evals=n_evals, surrogate=surrogate
                       ).attribute(np.ones(10), target=1)
        assert abs(e.values.sum() - gap) <= 1e-9 * abs(gap)
        assert abs(e.convergence_delta) <= 1e-9 * abs(gap)
        # An odd budget leaves one evaluation unspent; no more than 2^n are ever spent.
        assert e.cost.n_evals == min(n_evals - n_evals % 2, 2 ** 10)


@pytest.mark.parametrize("surrogate", [True, False])
def test_full_budget_gives_exact_values(surrogate):
    """A budget covering all 2^n coalitions returns the exact Shapley values, with zero standard error."""
    table = np.random.default_rng(5).normal(size=2 ** 8)
    exact = ExactShapley(table_game(table), masker=zero_masker(8)).attribute(np.ones(8), target=1)
    for n_evals in (256, 1000):
        e = KernelSHAP(table_game(table), masker=zero_masker(8), n_evals=n_evals, surrogate=surrogate
                       ).attribute(np.ones(8), target=1)
        np.testing.assert_allclose(e.values, exact.values, rtol=0, atol=1e-9)
        assert e.cost.n_evals == 256
        assert np.array_equal(e.stderr, np.zeros(8))
        assert e.diagnostics["fraction_evaluated"] == 1.0 and e.diagnostics["complete_sizes"] == 7


@pytest.mark.parametrize("surrogate", [True, False])
def test_error_decreases_as_the_budget_grows(surrogate):
    """On a game with interactions of every order, the mean error over 5 seeds falls by at least 40% at each
    step of 40, 100, 300, 800 evaluations (of 1024 coalitions)."""
    table = smooth_game()
    truth = shapley_from_table(table, 10)
    errors = []
    for n_evals in (40, 100, 300, 800):
        errors.append(np.mean([relative_error(KernelSHAP(table_game(table), masker=zero_masker(10), n_evals=n_evals,
                                                         seed=seed, surrogate=surrogate
                                                         ).attribute(np.ones(10), target=1).values, truth)
                               for seed in range(5)]))
    assert all(later < 0.6 * earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.05


def test_plan_enumerates_small_sizes_and_never_repeats_a_coalition():
    """The plan holds complementary pairs, no coalition twice, every coalition of the sizes it can cover whole
    (1 and 9, 2 and 8 here), and the rest spread over all other sizes."""
    method = KernelSHAP(game(lambda z: z[:, 0]), masker=zero_masker(10), n_evals=300)
    masks = method.plan(10, np.random.default_rng(0))
    assert masks.shape == (298, 10) and masks.dtype == bool
    assert np.array_equal(masks[0::2], ~masks[1::2])
    assert len(np.unique(codes(masks))) == len(masks)
    sizes = np.bincount(masks.sum(1), minlength=11)
    assert list(sizes[[1, 2, 8, 9]]) == [10, 45, 45, 10]
    assert sizes[0] == sizes[10] == 0 and min(sizes[3:8]) > 0


# -- determinism and batching ---------------------------------------------------------------------------
def test_same_seed_same_values_other_seed_other_values():
    """Randomness comes only from the seed: equal seeds give identical values, another seed different ones."""
    adapter, masker = table_game(smooth_game()), zero_masker(10)
    first = KernelSHAP(adapter, masker=masker, n_evals=100, seed=3).attribute(np.ones(10), target=1)
    again = KernelSHAP(adapter, masker=masker, n_evals=100, seed=3).attribute(np.ones(10), target=1)
    other = KernelSHAP(adapter, masker=masker, n_evals=100, seed=4).attribute(np.ones(10), target=1)
    assert np.array_equal(first.values, again.values) and np.array_equal(first.stderr, again.stderr)
    assert np.abs(first.values - other.values).max() > 1e-3


def test_batched_equals_one_at_a_time():
    """Examples explained together get the values they get alone (their draws depend on their content only)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=8), rng.normal(size=(8, 8))
    adapter = game(lambda z: np.tanh(z @ a) * (z @ b @ a) / 4)
    xs = [np.round(rng.normal(size=8) * 4) / 4 for _ in range(3)]  # exact in float32
    for method in (KernelSHAP(adapter, masker=zero_masker(8), n_evals=60, batch_size=7),
                   ExactShapley(adapter, masker=zero_masker(8), batch_size=7)):
        together = method.attribute(xs, target=[1, 0, 1])
        for x, t, e in zip(xs, [1, 0, 1], together):
            alone = method.attribute(x, target=t)
            np.testing.assert_allclose(e.values, alone.values, rtol=0, atol=1e-12)
            assert e.target == t


# -- standard errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("surrogate", [True, False])
def test_stderr_has_the_right_size(surrogate):
    """stderr has one positive entry per feature when sampling happened, and the true error is about one
    standard error: the mean squared standardised error over 20 seeds lies in [0.5, 2]."""
    table = smooth_game()
    truth = shapley_from_table(table, 10)
    z2 = []
    for seed in range(20):
        e = KernelSHAP(table_game(table), masker=zero_masker(10), n_evals=300, seed=seed, surrogate=surrogate
                       ).attribute(np.ones(10), target=1)
        assert e.stderr.shape == (10,) and (e.stderr > 0).all()
        z2.append(np.mean(((e.values - truth) / e.stderr) ** 2))
    assert 0.5 <= np.mean(z2) <= 2.0, np.mean(z2)


def test_surrogate_shapley_values_match_enumeration():
    """The closed-form Shapley values of the kernel-ridge surrogate equal those of its values on every
    coalition."""
    rng = np.random.default_rng(0)
    for n in (2, 5, 9):
        centres = rng.random((25, n)) > 0.5
        g = _KernelRidge(centres=centres, alpha=rng.normal(size=25), offset=0.3, rho=0.7, fitted=np.zeros(25),
                         loo=np.zeros(25))
        enumerated = shapley_from_table(g.predict(all_coalitions(n) > 0.5), n)
        np.testing.assert_allclose(g.shapley(), enumerated, rtol=0, atol=1e-12)


def test_surrogate_leave_one_out_residuals_equal_refits_without_the_row():
    """The surrogate's leave-one-out residuals (from the inverse of its Cholesky factor) equal the residuals of
    the same kernel ridge refitted without each row, and its fitted values are its predictions."""
    rng = np.random.default_rng(3)
    n, m = 7, 40
    z = np.concatenate([np.ones((1, n), bool), np.zeros((1, n), bool), rng.random((m, n)) > 0.5])
    y = np.concatenate([[0.0, 0.0], np.sin(z[2:] @ rng.normal(size=n))])
    g = _KernelRidge.fit(z, y, np.arange(m))
    np.testing.assert_allclose(g.fitted, g.predict(z), rtol=0, atol=1e-8)
    ridge = float(np.median((y - g.fitted) / g.alpha))  # (K + ridge I) alpha = y - offset at every row
    kernel = g.rho ** (z[:, None, :] != z[None, :, :]).sum(2)
    for i in range(len(z)):
        keep = np.arange(len(z)) != i
        # The refit keeps the offset (the mean of all targets), as the closed form does.
        alpha = np.linalg.solve(kernel[np.ix_(keep, keep)] + ridge * np.eye(len(z) - 1), y[keep] - g.offset)
        np.testing.assert_allclose(g.loo[i], y[i] - g.offset - kernel[i, keep] @ alpha, rtol=1e-6, atol=1e-8)


# -- settings, registry and errors ----------------------------------------------------------------------
def test_registry_and_params():
    """Both methods are found by name and alias and record their settings."""
    assert lumos.get_method("exact_shapley") is lumos.get_method("shapley") is ExactShapley
    assert lumos.get_method("exact") is ExactShapley
    assert lumos.get_method("kernel_shap") is lumos.get_method("KernelSHAP") is lumos.get_method("kshap") is KernelSHAP
    e = KernelSHAP(game(lambda z: z[:, 0]), masker=zero_masker(3), n_evals=8, seed=2).attribute(np.ones(3), target=1)
    assert e.params == {"output": "logit", "seed": 2, "n_evals": 8, "surrogate": True}
    assert e.method == "kernel_shap"
    assert ExactShapley(game(lambda z: z[:, 0]), masker=zero_masker(3)).params()["max_features"] == 16


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_evals": 1}, lumos.InvalidArgumentError, "The 'n_evals' parameter of KernelSHAP must be an int >= 2 and <= 1000000. Got 1."),
    ({"n_evals": 500.0}, lumos.InvalidTypeError,
     "The 'n_evals' parameter of KernelSHAP must be an int >= 2 and <= 1000000. Got 500.0."),
    ({"surrogate": 1}, lumos.InvalidTypeError, "The 'surrogate' parameter of KernelSHAP must be a bool. Got 1."),
])
def test_bad_settings_are_named(kwargs, error, message):
    """Bad settings raise at construction with a message naming the parameter, what is accepted and the value."""
    with pytest.raises(error) as info:
        KernelSHAP(game(lambda z: z[:, 0]), masker=zero_masker(3), **kwargs)
    assert str(info.value) == message


def test_budget_below_the_minimum_says_how_much_is_needed():
    """Fewer evaluations than 2 n + 2 cannot determine the regression; the error gives the minimum."""
    assert [min_evals(n) for n in (1, 2, 3, 4, 10)] == [2, 4, 8, 10, 22]
    method = KernelSHAP(game(lambda z: z[:, 0]), masker=zero_masker(10), n_evals=21)
    with pytest.raises(lumos.InvalidArgumentError) as info:
        method.attribute(np.ones(10), target=1)
    assert str(info.value) == (
        "The 'n_evals' parameter of KernelSHAP must be >= 22 for an input of 10 features (the full and empty "
        "coalitions and one complementary pair per feature). Got 21; raise n_evals to at least 22.")


def test_exact_shapley_refuses_too_many_features_and_points_to_kernel_shap():
    """Above max_features ExactShapley refuses, stating n, the limit, the 2^n cost and the alternative."""
    method = ExactShapley(game(lambda z: z[:, 0]), masker=zero_masker(5), max_features=4)
    with pytest.raises(lumos.InvalidArgumentError) as info:
        method.attribute(np.ones(5), target=1)
    assert str(info.value) == (
        "ExactShapley evaluates all 2^n coalitions: an input of n = 5 features needs 2^5 = 32 model evaluations, "
        "above the limit of max_features = 4 (2^4 = 16). Use KernelSHAP(model, n_evals=...) to estimate the "
        "Shapley values, or raise max_features.")
    with pytest.raises(lumos.InvalidArgumentError, match="The 'max_features' parameter of ExactShapley must be "
                                                         r"an int >= 1\. Got 0\."):
        ExactShapley(game(lambda z: z[:, 0]), masker=zero_masker(5), max_features=0)


# -- the zoo model end to end ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("method", [ExactShapley, KernelSHAP])
def test_empty_text_is_refused(tweets_model, method):
    """An empty text has no words to attribute to; both methods say so instead of returning nothing."""
    with pytest.raises(lumos.InvalidArgumentError) as info:
        method(tweets_model).attribute("")
    assert str(info.value) == "The text in 'inputs' is empty: there is nothing to explain. Got ''."


@pytest.mark.slow
def test_zoo_full_budget_kernel_shap_equals_exact_shapley(tweets_model):
    """On a 5-word tweet, KernelSHAP with a budget covering all 32 coalitions equals ExactShapley."""
    text = "@JetBlue great smooth flight too!"
    exact = ExactShapley(tweets_model).attribute(text)
    e = KernelSHAP(tweets_model, n_evals=500).attribute(text)
    assert e.features == exact.features == tuple(text.split())
    np.testing.assert_allclose(e.values, exact.values, rtol=0, atol=1e-9)
    assert e.cost.n_evals == exact.cost.n_evals == 32
    assert abs(exact.convergence_delta) < 1e-9 * abs(exact.output_value - exact.base_value)


@pytest.mark.slow
def test_zoo_efficiency_on_a_long_tweet(tweets_model):
    """On a 15-word tweet (32,768 coalitions) 200 evaluations give values that sum to the logit gap to 1e-9."""
    text = "@usairways - It's all automated and no one cares to understand the problem I'm having"
    e = KernelSHAP(tweets_model, n_evals=200).attribute(text)
    assert len(e.values) == 15 and e.cost.n_evals == 200
    assert abs(e.convergence_delta) <= 1e-9 * abs(e.output_value - e.base_value)
    assert (e.stderr > 0).all()
    assert e.diagnostics["fraction_evaluated"] == pytest.approx(200 / 2 ** 15)


def test_kernel_shap_on_two_features_is_exact():
    """With two features every coalition is evaluated (the one pair of stratum 1 has no other member), and the
    values are the exact Shapley values of the game (they used to fail to plan)."""
    import lumos as _lumos

    def f(rows):
        x = np.asarray(rows, dtype=float)
        return np.stack([x[:, 0] + 2 * x[:, 1] + x[:, 0] * x[:, 1], -x[:, 0]], 1)

    adapter = _lumos.CallableAdapter(f, class_names=["a", "b"], output_kind="logits")
    masker = _lumos.maskers.TabularMasker(np.zeros((1, 2)))
    e = _lumos.KernelSHAP(adapter, masker=masker).attribute(np.array([1.0, 1.0]), target=0)
    np.testing.assert_allclose(e.values, [1.5, 2.5], atol=1e-9)  # v(12)=4, v(1)=1, v(2)=2, v(0)=0
