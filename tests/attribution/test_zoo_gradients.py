"""Gradient methods on the real zoo text classifier: completeness checked against the model called directly,
batched equals unbatched, determinism, word alignment, and JSON round trips of real explanations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lumos
from lumos import Explanation, ExplanationSet, GradientXInput, IntegratedGradients, Saliency, SmoothGrad

pytestmark = pytest.mark.slow

METHODS = {  # cheap settings: these tests check batching and determinism, not accuracy
    "saliency": lambda m, **kw: Saliency(m, **kw),
    "gradient_x_input": lambda m, **kw: GradientXInput(m, **kw),
    "integrated_gradients": lambda m, **kw: IntegratedGradients(m, n_steps=8, **kw),
    "integrated_gradients_probability": lambda m, **kw: IntegratedGradients(m, n_steps=8, output="probability",
                                                                            **kw),
    "smoothgrad": lambda m, **kw: SmoothGrad(m, n_samples=3, seed=7, **kw),
    "smoothgrad_ig": lambda m, **kw: SmoothGrad(IntegratedGradients(m, n_steps=4), n_samples=2, kind="vargrad",
                                                **kw),
}


def direct_logits(model, text: str, baseline: str = "pad") -> tuple[np.ndarray, np.ndarray]:
    """Logits at x and at the baseline for one text, computed here from the tokenizer and the raw module: word
    embeddings of the tokens, and the same with every non-special token's embedding replaced by the baseline's."""
    enc = model.tokenizer([text], return_tensors="pt", return_special_tokens_mask=True, truncation=True,
                          max_length=128)
    embeddings = model.model.get_input_embeddings()
    with torch.no_grad():
        x = embeddings(enc["input_ids"])  # (1, T, D)
        if baseline == "zero":
            fill = torch.zeros(x.shape[-1])
        else:
            token = model.tokenizer.pad_token_id if baseline == "pad" else model.tokenizer.mask_token_id
            fill = embeddings(torch.tensor([token]))[0]
        special = enc["special_tokens_mask"].bool()[..., None]  # (1, T, 1)
        x0 = torch.where(special, x, fill)
        logits = model.model(inputs_embeds=torch.cat([x, x0]), attention_mask=enc["attention_mask"].repeat(2, 1))
    return logits[0].double().numpy(), logits[1].double().numpy()


def assert_same_explanation(a: Explanation, b: Explanation) -> None:
    """Equal up to float32 rounding: the same text in a different padded batch runs matrix products of other
    shapes, which changes summation order (observed ~1e-7 relative; 1e-5 is a hundred float32 ulps)."""
    assert (a.features, a.words, a.word_index, a.target, a.text) == (b.features, b.words, b.word_index, b.target,
                                                                     b.text)
    scale = max(np.abs(b.values).max(), 1e-12)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(a.prediction, b.prediction, rtol=0, atol=1e-5)
    assert a.output_value == pytest.approx(b.output_value, abs=1e-5 * max(1.0, abs(b.output_value)))
    if b.base_value is not None:
        assert a.base_value == pytest.approx(b.base_value, abs=1e-5 * max(1.0, abs(b.base_value)))


# -- completeness ---------------------------------------------------------------------------------------
def test_integrated_gradients_are_complete_on_held_out_tweets(tweets_model, held_out_tweets):
    """With 64 Gauss-Legendre steps, IG values sum to f(x) - f(pad baseline) within 1% of the gap, for every
    class, where f is computed here by calling the model directly."""
    targets = [0, 1, 2, 0, 1]
    explanations = IntegratedGradients(tweets_model, n_steps=64, method="gausslegendre").attribute(
        held_out_tweets, target=targets)
    assert isinstance(explanations, ExplanationSet) and len(explanations) == len(held_out_tweets)
    for text, e, t in zip(held_out_tweets, explanations, targets):
        fx, fx0 = (float(logits[t]) for logits in direct_logits(tweets_model, text))
        gap = fx - fx0
        assert e.target == t and e.text == text
        assert abs(gap) > 0.1  # a real gap, so that 1% of it is a demanding bound
        assert abs(e.values.sum() - gap) <= 0.01 * abs(gap)
        # The reported ends are the model's outputs (float32, computed in a padded batch).
        assert e.output_value == pytest.approx(fx, abs=1e-4)
        assert e.base_value == pytest.approx(fx0, abs=1e-4)
        assert e.convergence_delta == pytest.approx(e.values.sum() - (e.output_value - e.base_value), abs=1e-12)
        assert e.cost.n_evals == 64 + 2


@pytest.mark.parametrize("baseline", ["pad", "mask", "zero"])
def test_base_value_is_the_model_at_the_named_baseline(tweets_model, baseline):
    """The base value reported for each baseline kind is the model's output with every word piece replaced by
    that baseline and the special tokens kept."""
    text = "@JetBlue unbelievably rude staff at the gate"
    e = IntegratedGradients(tweets_model, n_steps=1, baseline=baseline).attribute(text, target="negative")
    fx, fx0 = (float(logits[0]) for logits in direct_logits(tweets_model, text, baseline))
    assert e.params["baseline"] == baseline
    assert e.output_value == pytest.approx(fx, abs=1e-4)
    assert e.base_value == pytest.approx(fx0, abs=1e-4)


def test_embedding_path_computes_the_same_function_as_predict(tweets_model, held_out_tweets):
    """Calling the model on word embeddings (the gradient path) gives the logits predict gives from token ids."""
    logits = tweets_model.predict(held_out_tweets)
    for text, row in zip(held_out_tweets, logits):
        # float32 logits of size ~1-10 through six layers, in batches padded differently: 1e-4 is ~100 ulps.
        np.testing.assert_allclose(direct_logits(tweets_model, text)[0], row, rtol=0, atol=1e-4)


def test_probability_output_is_complete(tweets_model, held_out_tweets):
    """Explaining the probability of the predicted class, IG sums to p(x) - p(baseline) within 1%."""
    e = IntegratedGradients(tweets_model, n_steps=32, output="probability").attribute(held_out_tweets[1])
    assert e.output == "probability" and e.target == e.predicted
    assert e.output_value == pytest.approx(e.prediction[e.target], abs=1e-6)
    gap = e.output_value - e.base_value
    assert abs(gap) > 0.05
    assert abs(e.values.sum() - gap) <= 0.01 * abs(gap)


# -- batching and determinism ---------------------------------------------------------------------------
BATCH_TEXTS = ["ok", "@united lost my bag AGAIN!! unbelievably bad service",
               "@JetBlue thanks, the crew was lovely and the flight early"]


@pytest.mark.parametrize("name", list(METHODS))
def test_batched_equals_one_at_a_time(tweets_model, name):
    """Explaining texts of different lengths in one call gives each the values it gets when explained alone."""
    method = METHODS[name](tweets_model)
    together = method.attribute(BATCH_TEXTS)
    for text, e in zip(BATCH_TEXTS, together):
        assert_same_explanation(e, method.attribute(text))


@pytest.mark.parametrize("name", list(METHODS))
def test_batch_size_does_not_change_results(tweets_model, name):
    """Values do not depend on how many examples are prepared together (batch_size 1 versus all)."""
    one_by_one = METHODS[name](tweets_model, batch_size=1).attribute(BATCH_TEXTS)
    together = METHODS[name](tweets_model, batch_size=len(BATCH_TEXTS)).attribute(BATCH_TEXTS)
    for a, b in zip(one_by_one, together):
        assert_same_explanation(a, b)


def test_internal_batch_size_does_not_change_integrated_gradients(tweets_model):
    """IG's values do not depend on how its path steps are packed into forward passes."""
    small = IntegratedGradients(tweets_model, n_steps=8, internal_batch_size=5).attribute(BATCH_TEXTS)
    large = IntegratedGradients(tweets_model, n_steps=8, internal_batch_size=64).attribute(BATCH_TEXTS)
    for a, b in zip(small, large):
        assert_same_explanation(a, b)


@pytest.mark.parametrize("name", list(METHODS))
def test_same_call_twice_gives_identical_results(tweets_model, name):
    """Repeating a call gives bit-identical values: nothing random leaks in from global state."""
    method = METHODS[name](tweets_model)
    first, second = method.attribute(BATCH_TEXTS[:2]), method.attribute(BATCH_TEXTS[:2])
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.values, b.values)
        assert a.output_value == b.output_value and a.target == b.target


def test_smoothgrad_seed_changes_the_noise(tweets_model):
    """Two seeds give clearly different SmoothGrad values; a fresh method with the same seed repeats them."""
    text = BATCH_TEXTS[1]
    a = SmoothGrad(tweets_model, n_samples=3, seed=1).attribute(text)
    b = SmoothGrad(tweets_model, n_samples=3, seed=2).attribute(text)
    again = SmoothGrad(tweets_model, n_samples=3, seed=1).attribute(text)
    np.testing.assert_array_equal(a.values, again.values)
    assert np.abs(a.values - b.values).max() > 1e-3 * np.abs(a.values).max()
    assert (a.params["seed"], b.params["seed"]) == (1, 2)


def test_smoothgrad_does_not_touch_global_random_state(tweets_model):
    """SmoothGrad draws its noise from its own generator: torch's and numpy's global states are unchanged."""
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    SmoothGrad(tweets_model, n_samples=2).attribute("late again")
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)


def test_signed_saliency_of_embeddings_is_refused(tweets_model):
    """Signed saliency summed over a token's embedding is meaningless (BERT's embedding LayerNorm makes the
    sum vanish), so it is refused with an error that points to GradientXInput."""
    with pytest.raises(lumos.InvalidArgumentError, match="'abs' parameter of Saliency.*GradientXInput"):
        Saliency(tweets_model, abs=False).attribute(BATCH_TEXTS[1], target="negative")


# -- features and words ---------------------------------------------------------------------------------
def test_word_pieces_are_aligned_to_words(tweets_model, held_out_tweets):
    """Each display word is a whitespace word of the text, and its pieces spell it (lower-cased, '##' removed)."""
    texts = ["unbelievably bad service @JetBlue", "I can't believe @united lost my bag AGAIN!!", *held_out_tweets]
    for e in Saliency(tweets_model).attribute(texts):
        assert e.words == tuple(e.text.split())
        assert "[CLS]" not in e.features and "[SEP]" not in e.features
        assert list(e.word_index) == sorted(e.word_index) and set(e.word_index) == set(range(len(e.words)))
        for w, word in enumerate(e.words):
            pieces = [f.removeprefix("##") for f, i in zip(e.features, e.word_index) if i == w]
            assert "".join(pieces) == word.lower()


def test_by_word_sums_the_pieces_of_split_words(tweets_model):
    """by_word gives 'unbelievably' and '@JetBlue' (several pieces each) the sum of their pieces' values."""
    e = IntegratedGradients(tweets_model, n_steps=4).attribute("unbelievably bad service @JetBlue")
    words, totals = e.by_word()
    assert words == ("unbelievably", "bad", "service", "@JetBlue")
    index = np.asarray(e.word_index)
    assert (index == 0).sum() >= 2 and (index == 3).sum() >= 2  # both words really are split
    for w in range(len(words)):
        assert totals[w] == pytest.approx(e.values[index == w].sum(), abs=1e-12)
    assert totals.sum() == pytest.approx(e.values.sum(), abs=1e-12)


# -- serialisation --------------------------------------------------------------------------------------
def test_real_explanations_round_trip_through_json(tweets_model, tmp_path):
    """An ExplanationSet from IG on the zoo model reads back equal from JSON text and from a file."""
    explanations = IntegratedGradients(tweets_model, n_steps=4).attribute(BATCH_TEXTS[:2])
    assert ExplanationSet.from_json(explanations.to_json()) == explanations
    path = tmp_path / "ig.json"
    explanations.to_json(path)
    assert ExplanationSet.from_json(path) == explanations
    single = explanations[1]
    single.to_json(tmp_path / "one.json")
    assert Explanation.from_json(tmp_path / "one.json") == single
