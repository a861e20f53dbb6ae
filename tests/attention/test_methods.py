"""Attention methods on the zoo model: Explanations over the same features as the gradient methods, values
that follow from the captured attention, independence from batching, no hook left behind; head ablation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lumos import InvalidArgumentError, Saliency, UnsupportedModelError, get_method
from lumos.attention import (AttentionFlow, AttentionRollout, AttentionXGradient, RawAttention, head_importance,
                             query_weights, rollout)
from lumos.models import TorchAdapter
from lumos.representation import capture

METHODS = {"attention": RawAttention, "rollout": AttentionRollout, "flow": AttentionFlow,
           "attention_x_gradient": AttentionXGradient}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_registered_and_explains_the_same_features(name, tweets_model, held_out_tweets, hook_counts):
    """Each method is in the registry and explains the word pieces Saliency explains, for the same class."""
    assert get_method(name) is METHODS[name]
    before = hook_counts(tweets_model.model)
    ours = METHODS[name](tweets_model).attribute(held_out_tweets[:3])
    reference = Saliency(tweets_model).attribute(held_out_tweets[:3])
    assert hook_counts(tweets_model.model) == before
    for e, r in zip(ours, reference):
        assert e.method == name and e.features == r.features and e.target == r.target
        assert e.words == r.words and np.isfinite(e.values).all()
        assert e.params["query"] == "mean"  # the zoo model pools by the mean


def test_rollout_and_flow_values_follow_from_the_captured_attention(tweets_model, held_out_tweets):
    """Rollout equals q^T Ã_6...Ã_1 of the captured attention (mean query over all tokens): it sums to one
    with [CLS] and [SEP], so the features get less than one; flow is at least rollout, at most one."""
    text = held_out_tweets[1]
    with capture(tweets_model, "layers.*.attention.probs") as cap:
        tweets_model.predict([text])
    stack = np.stack([cap[f"layers.{i}.attention.probs"][0].double().numpy() for i in range(6)])
    n = stack.shape[-1]
    expected = rollout(stack, query_weights(n, "mean"))
    e = AttentionRollout(tweets_model).attribute(text)
    np.testing.assert_allclose(e.values, expected[1:-1], rtol=1e-5)  # features: all but [CLS] and [SEP]
    assert 0 < e.values.sum() < 1 and (e.values > 0).all()
    f = AttentionFlow(tweets_model).attribute(text)
    assert (f.values >= e.values - 1e-6).all() and (f.values <= 1 + 1e-6).all()
    raw = RawAttention(tweets_model, layer=2, head=5).attribute(text)
    np.testing.assert_allclose(raw.values, stack[2, 5].mean(0)[1:-1], rtol=1e-5)


@pytest.mark.parametrize("name", ["rollout", "attention_x_gradient"])
def test_batched_equals_one_at_a_time(name, tweets_model, held_out_tweets):
    """Padding in a batch changes nothing: each example's values equal those computed alone."""
    method = METHODS[name](tweets_model)
    texts = held_out_tweets[::2]  # three lengths: the shorter two are padded
    together = method.attribute(texts)
    for text, e in zip(texts, together):
        np.testing.assert_allclose(method.attribute(text).values, e.values, rtol=2e-3, atol=1e-5)


def test_attention_x_gradient_layers_add_up_and_depend_on_the_target(tweets_model, held_out_tweets):
    """The all-layer values are the sum of the per-layer ones; another target gives other values."""
    text = held_out_tweets[2]
    total = AttentionXGradient(tweets_model).attribute(text, target=0).values
    per_layer = sum(AttentionXGradient(tweets_model, layer=i).attribute(text, target=0).values for i in range(6))
    np.testing.assert_allclose(total, per_layer, rtol=1e-4, atol=1e-6)
    other = AttentionXGradient(tweets_model).attribute(text, target=2).values
    assert np.abs(total - other).max() > 1e-3


def test_bad_settings_and_models_are_refused(tweets_model):
    """Errors name the argument and what is accepted; models without attention are refused."""
    with pytest.raises(InvalidArgumentError, match=r"'layer' parameter of RawAttention must be a layer index in \[-6, 5\]"):
        RawAttention(tweets_model, layer=6)
    with pytest.raises(InvalidArgumentError, match="'query' parameter of AttentionRollout"):
        AttentionRollout(tweets_model, query="max")
    with pytest.raises(InvalidArgumentError, match="'residual' parameter of AttentionFlow"):
        AttentionFlow(tweets_model, residual=-0.1)
    with pytest.raises(InvalidArgumentError, match="'head' parameter of RawAttention"):
        RawAttention(tweets_model, head=12).attribute("late again")
    with pytest.raises(UnsupportedModelError, match="needs a transformer"):
        AttentionRollout(TorchAdapter(torch.nn.Linear(3, 2)))


def test_head_importance_by_ablation(tweets_model, hook_counts):
    """Silencing a head changes the output by exactly what a manual ablation of that head gives; shapes,
    ranges and accuracy bookkeeping hold; no hook is left."""
    from lumos import zoo

    test = zoo.dataset("airline-tweets").test
    texts, labels = list(test.texts[:4]), np.asarray(test.labels[:4])
    before = hook_counts(tweets_model.model)
    result = head_importance(tweets_model, texts, labels)
    assert hook_counts(tweets_model.model) == before
    assert result.score_drop.shape == (6, 12) and result.n_examples == 4
    assert np.isfinite(result.score_drop).all() and np.abs(result.score_drop).max() > 1e-3
    assert ((0 <= result.prediction_changes) & (result.prediction_changes <= 1)).all()
    base = tweets_model.predict(texts)
    assert result.accuracy == float((base.argmax(1) == labels).mean())
    layer, head, value = result.top(1)[0]
    # The head's output is its slice of the concatenated context: zeroing it by hand gives the same drop.
    def zero(context: torch.Tensor) -> torch.Tensor:
        context = context.clone()
        context[..., head * 32:(head + 1) * 32] = 0
        return context
    with capture(tweets_model, [], edit={f"layers.{layer}.attention.heads": zero}):
        ablated = tweets_model.predict(texts)
    rows = np.arange(4)
    predicted = base.argmax(1)
    assert value == pytest.approx(float((base[rows, predicted] - ablated[rows, predicted]).mean()), abs=1e-5)
