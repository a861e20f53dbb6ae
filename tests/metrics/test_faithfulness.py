"""Faithfulness metrics: known answers on a hand-built additive model (the true attribution wins, a random
one is at chance, the reversed one loses), curve identities, ERASER definitions, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lumos
from lumos import Explanation, GradientXInput, TorchAdapter
from lumos.maskers import TabularMasker
from lumos.metrics import faithfulness, faithfulness_correlation
from lumos.metrics._common import mean_ci

N_FEATURES = 12
W = np.array([2.0, -1.5, 1.0, 0.5, -0.25, 3.0, -2.5, 0.75, 1.25, -0.5, 0.1, -1.0])


def additive_adapter() -> TorchAdapter:
    """Logit of class 1 = w . x, class 0 fixed at 0: the true attribution of feature i is w_i x_i (zero baseline)."""
    model = nn.Linear(N_FEATURES, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor(np.stack([np.zeros(N_FEATURES), W]), dtype=torch.float32))
    return TorchAdapter(model, class_names=["no", "yes"])


@pytest.fixture(scope="module")
def setting():
    adapter = additive_adapter()
    x = np.random.default_rng(3).normal(size=(40, N_FEATURES)).astype(np.float32)
    masker = TabularMasker(np.zeros((1, N_FEATURES)))
    probs = adapter.predict_proba(list(x))
    rng = np.random.default_rng(11)

    def explain(values, method):
        return [Explanation(values=v, features=masker.feature_names, target=1, prediction=p,
                            class_names=adapter.class_names, method=method) for v, p in zip(values, probs)]

    true = W * x
    return {"adapter": adapter, "x": list(x), "masker": masker, "true": explain(true, "true"),
            "reversed": explain(-true, "reversed"),
            "random": explain(rng.normal(size=true.shape), "random")}


def run(setting, name, **kw):
    return faithfulness(setting["adapter"], setting[name], inputs=setting["x"], masker=setting["masker"], **kw)


@pytest.mark.parametrize("output", ["probability", "logit"])
def test_true_attribution_is_best_and_reversed_worst_on_every_example(setting, output):
    """On an additive model, hiding the largest contributions first lowers the output most at every step, so
    the true attribution has the lowest deletion AUC and the highest comprehensiveness of all three, and the
    reversed attribution the highest deletion AUC and lowest comprehensiveness — example by example."""
    res = {name: run(setting, name, output=output) for name in ("true", "random", "reversed")}
    for t, r, v in zip(res["true"], res["random"], res["reversed"]):
        assert t.deletion_auc <= r.deletion_auc + 1e-9 <= v.deletion_auc + 2e-9
        assert t.insertion_auc + 1e-9 >= r.insertion_auc >= v.insertion_auc - 1e-9
        assert t.aopc_comprehensiveness + 1e-9 >= r.aopc_comprehensiveness >= v.aopc_comprehensiveness - 1e-9
        assert t.aopc_sufficiency <= r.aopc_sufficiency + 1e-9 <= v.aopc_sufficiency + 2e-9
    gaps = {name: np.array([x.gap for x in rs]) for name, rs in res.items()}
    assert gaps["true"].mean() > 0.1 if output == "probability" else gaps["true"].mean() > 1.0
    # Reversing a ranking swaps the MoRF and LeRF curves: its gap is exactly minus the true one.
    np.testing.assert_allclose(gaps["reversed"], -gaps["true"], atol=1e-9)
    # A random ranking is at chance: its mean gap is within its confidence interval of 0 and small.
    mean, half, _ = mean_ci(gaps["random"])
    assert abs(mean) <= half and abs(mean) < 0.25 * gaps["true"].mean()


def test_gradient_x_input_recovers_the_true_attribution(setting):
    """A real method (Gradient x Input, exact on a bias-free linear model) scores the same as the truth."""
    explained = GradientXInput(setting["adapter"]).attribute(np.stack(setting["x"]), target=1)
    np.testing.assert_allclose([e.values for e in explained], [e.values for e in setting["true"]], rtol=1e-5)
    ours = faithfulness(setting["adapter"], explained, inputs=setting["x"], masker=setting["masker"])
    truth = run(setting, "true")
    np.testing.assert_allclose([r.deletion_auc for r in ours], [r.deletion_auc for r in truth], atol=1e-6)


def test_curves_by_hand(setting):
    """Curves start at f(x) (deletion) / f(empty) (insertion), end at the other, and comprehensiveness and
    sufficiency follow ERASER's definitions on the top ceil(q n) features, checked by direct model calls."""
    adapter, x = setting["adapter"], setting["x"][0]
    r = run(setting, "true", output="logit")[0]
    f = lambda z: float(adapter.predict([np.asarray(z, dtype=np.float32)])[0, 1])  # noqa: E731
    assert r.fractions[0] == 0 and r.fractions[-1] == 1 and len(r.fractions) == N_FEATURES + 1
    assert r.deletion[0] == pytest.approx(f(x), abs=1e-5) and r.deletion[-1] == pytest.approx(0, abs=1e-6)
    assert r.insertion[0] == pytest.approx(0, abs=1e-6) and r.insertion[-1] == pytest.approx(f(x), abs=1e-5)
    order = np.argsort(-(W * x))
    for q in (0.01, 0.2, 0.5):
        k = int(np.ceil(q * N_FEATURES))
        hidden, shown = x.copy(), np.zeros_like(x)
        hidden[order[:k]] = 0
        shown[order[:k]] = x[order[:k]]
        assert r.comprehensiveness[q] == pytest.approx(f(x) - f(hidden), abs=1e-5)
        assert r.sufficiency[q] == pytest.approx(f(x) - f(shown), abs=1e-5)
    # Insertion and LeRF deletion integrate the same keep-top curve: equal areas.
    assert r.insertion_auc == pytest.approx(r.deletion_lerf_auc, abs=1e-9)


def test_long_inputs_use_a_grid_of_max_steps(setting):
    """With max_steps below the feature count the curve has a coarser grid that still spans [0, 1]."""
    r = run(setting, "true", max_steps=4)[0]
    assert r.fractions[0] == 0 and r.fractions[-1] == 1 and len(r.fractions) < N_FEATURES + 1
    assert np.all(np.diff(r.fractions) > 0)


def test_faithfulness_correlation_known_answer(setting):
    """With logits, the drop of hiding S is exactly the true attribution mass of S: correlation 1. A random
    attribution correlates near 0 on average."""
    kw = dict(inputs=setting["x"], masker=setting["masker"], output="logit")
    true = faithfulness_correlation(setting["adapter"], setting["true"], **kw)
    np.testing.assert_allclose(true, 1.0, atol=1e-6)
    rand = faithfulness_correlation(setting["adapter"], setting["random"], **kw)
    mean, half, _ = mean_ci(rand)
    assert abs(mean) < max(half, 0.15)


def test_text_explanations_by_word_pieces_align_with_words(tweets_model, held_out_tweets):
    """Gradient explanations over word pieces are summed per word to match the word masker; on the zoo model
    Integrated Gradients beats the random baseline's gap."""
    texts = held_out_tweets[:3]
    ig = lumos.IntegratedGradients(tweets_model, n_steps=16).attribute(texts)
    rand = lumos.metrics.RandomAttribution(tweets_model).attribute(texts)
    r_ig, r_rand = faithfulness(tweets_model, ig), faithfulness(tweets_model, rand)
    assert [r.n_features for r in r_ig] == [len(e.by_word()[0]) for e in ig]
    assert np.mean([r.gap for r in r_ig]) > np.mean([r.gap for r in r_rand])
    for r in r_ig:
        assert 0 <= r.deletion_auc <= 1 and 0 <= r.insertion_auc <= 1


def test_errors_name_the_argument(setting):
    """Bad arguments raise errors naming the parameter and what is accepted."""
    with pytest.raises(lumos.InvalidArgumentError, match="'fractions' parameter of faithfulness"):
        run(setting, "true", fractions=(0.0,))
    with pytest.raises(lumos.InvalidArgumentError, match="'output' parameter of faithfulness"):
        run(setting, "true", output="odds")
    with pytest.raises(lumos.InvalidArgumentError, match="'inputs' parameter of faithfulness"):
        faithfulness(setting["adapter"], setting["true"], inputs=setting["x"][:3], masker=setting["masker"])
    with pytest.raises(lumos.InvalidArgumentError, match="'inputs' parameter of faithfulness is required"):
        faithfulness(setting["adapter"], setting["true"], masker=setting["masker"])
    with pytest.raises(lumos.InvalidTypeError, match="'explanations' parameter"):
        faithfulness(setting["adapter"], "not explanations", masker=setting["masker"])


def test_random_baseline_is_at_chance(setting):
    """lumos's RandomAttribution (seeded by the example, like the metrics' own draws) is uncorrelated with the
    output drops of the metric's random subsets and has a gap near 0: the metric's draws are independent."""
    from lumos.metrics import RandomAttribution

    rand = RandomAttribution(setting["adapter"], masker=setting["masker"]).attribute(np.stack(setting["x"]), target=1)
    kw = dict(inputs=setting["x"], masker=setting["masker"])
    corr = faithfulness_correlation(setting["adapter"], rand, output="logit", **kw)
    mean, half, _ = mean_ci(corr)
    assert abs(mean) < max(half, 0.15)
    gaps = [r.gap for r in faithfulness(setting["adapter"], rand, **kw)]
    assert abs(np.mean(gaps)) <= mean_ci(gaps)[1]
