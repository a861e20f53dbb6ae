"""Structured pruning: a removed head or neuron is really gone (the model computes exactly what the original
computes with that unit silenced), parameters drop by the exact amount, rankings follow importance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lumos
from lumos.compression import head_scores, neuron_scores, prune_heads, prune_neurons
from lumos.compression._common import blocks
from lumos.representation import capture


def _params(adapter) -> int:
    return sum(p.numel() for p in adapter.model.parameters())


def _silenced(adapter, texts, kept_heads=None, kept_neurons=None) -> np.ndarray:
    """The original's logits with every unit not kept zeroed where it leaves its layer."""
    edits = {}
    for layer, keep in enumerate(kept_heads or []):
        def heads(context, keep=keep, n=blocks(adapter.model, owner="test")[2][layer].n_heads):
            view = context.clone().view(*context.shape[:-1], n, -1)
            view[..., [h for h in range(n) if h not in keep], :] = 0
            return view.view(context.shape)
        edits[f"layers.{layer}.attention.heads"] = heads
    for layer, keep in enumerate(kept_neurons or []):
        def neurons(act, keep=keep):
            out = torch.zeros_like(act)
            out[..., keep] = act[..., keep]
            return out
        edits[f"layers.{layer}.intermediate"] = neurons
    with capture(adapter, [], edit=edits):
        return adapter.predict(texts)


def _zero_head_weights(adapter, kept) -> None:
    """Zero, in place, each removed head's value rows (and bias) and its columns of the output projection."""
    with torch.no_grad():
        for block, keep in zip(blocks(adapter.model, owner="test")[2], kept):
            d = block.head_size
            for h in range(block.n_heads):
                if h not in keep:
                    block.attention.value.weight[h * d:(h + 1) * d] = 0
                    block.attention.value.bias[h * d:(h + 1) * d] = 0
                    block.attention_out.weight[:, h * d:(h + 1) * d] = 0


def test_removed_heads_are_gone(tiny, texts, unchanged):
    """The head-pruned model equals the original with those heads silenced, and equals the original with
    those heads' weights zeroed: removing them changes nothing further. The original is untouched."""
    check = unchanged(tiny)
    pruned = prune_heads(tiny, 2)
    kept = pruned.compression[-1]["kept"]
    assert [len(k) for k in kept] == [2, 2, 2]
    out = pruned.predict(texts)
    np.testing.assert_allclose(out, _silenced(tiny, texts, kept_heads=kept), atol=1e-5)
    assert check()
    zeroed = lumos.models.clone_adapter(tiny, owner="test")
    _zero_head_weights(zeroed, kept)
    np.testing.assert_allclose(out, zeroed.predict(texts), atol=1e-5)
    # 3 layers x 2 heads of 8 dims: query, key, value rows with biases and the output projection's columns
    assert _params(tiny) - _params(pruned) == 3 * 2 * (3 * (8 * 32 + 8) + 32 * 8)


def test_removed_neurons_are_gone(tiny, texts):
    """The neuron-pruned model equals the original with those neurons' activations zeroed."""
    pruned = prune_neurons(tiny, 0.25)
    kept = pruned.compression[-1]["kept"]
    assert [len(k) for k in kept] == [48, 48, 48]
    np.testing.assert_allclose(pruned.predict(texts), _silenced(tiny, texts, kept_neurons=kept), atol=1e-5)
    assert _params(tiny) - _params(pruned) == 3 * 16 * (32 + 1 + 32)


def test_zoo_model_heads_pruned_equals_ablation(tweets_model, texts):
    """On MiniLM (12 heads per layer): removing 4 heads per layer is exactly silencing them."""
    pruned = prune_heads(tweets_model, 4)
    kept = pruned.compression[-1]["kept"]
    np.testing.assert_allclose(pruned.predict(texts), _silenced(tweets_model, texts, kept_heads=kept), atol=1e-4)
    assert _params(tweets_model) - _params(pruned) == 6 * 4 * (3 * (32 * 384 + 32) + 384 * 32)


def test_magnitude_ranking_removes_the_weakest_head(make_tiny):
    """A head whose weights are scaled down to a tenth is the first one magnitude pruning removes."""
    model = make_tiny(1)
    with torch.no_grad():
        for block in blocks(model.model, owner="test")[2]:
            for name in ("query", "key", "value"):
                getattr(block.attention, name).weight[16:24] *= 0.1  # head 2
            block.attention_out.weight[:, 16:24] *= 0.1
    assert all(int(np.argmin(s)) == 2 for s in head_scores(model))
    assert all(2 not in keep for keep in prune_heads(model, 1).compression[-1]["kept"])


def test_ablation_ranking_keeps_the_heads_whose_removal_hurts(tiny, texts):
    """With importance='ablation', the heads kept are those with the largest measured logit drop."""
    scores = head_scores(tiny, "ablation", texts)
    pruned = prune_heads(tiny, 3, importance="ablation", texts=texts)
    assert pruned.compression[-1]["kept"] == [[int(np.argmax(s))] for s in scores]


def test_activation_ranking_matches_measured_contributions(tiny, texts):
    """neuron_scores('activation') is the mean |activation| over real tokens times the output column's norm."""
    scores = neuron_scores(tiny, "activation", texts)
    with capture(tiny, "layers.0.intermediate") as cap:
        inputs = tiny.model_inputs(texts)
        mask = inputs["attention_mask"]
        with torch.no_grad():
            tiny.run(inputs)
    act = cap["layers.0.intermediate"][mask.bool()].abs().mean(0)
    norm = blocks(tiny.model, owner="test")[2][0].ffn_out.weight.norm(dim=0)
    np.testing.assert_allclose(scores[0], (act * norm).detach().numpy(), rtol=1e-4)


def test_every_feature_works_on_a_head_pruned_model(tweets_model, texts):
    """A pruned model is an ordinary adapter: IG keeps completeness, attention methods and head importance run
    on its uneven heads (NaN where a layer lost a head)."""
    pruned = prune_heads(tweets_model, 4)
    e = lumos.IntegratedGradients(pruned, n_steps=64).attribute(texts[0])
    assert abs(e.convergence_delta) <= 0.01 * abs(e.output_value - e.base_value)
    assert lumos.AttentionRollout(pruned).attribute(texts[0]).values.shape == e.values.shape
    imp = lumos.head_importance(pruned, texts[:3])
    assert imp.score_drop.shape == (6, 8) and np.isfinite(imp.score_drop).all()
    with capture(pruned, "layers.0.attention.probs") as cap:
        pruned.predict(texts[:2])
    assert cap["layers.0.attention.probs"].shape[1] == 8


@pytest.mark.parametrize("call, error, pattern", [
    (lambda m: prune_heads(m, 4), lumos.InvalidArgumentError,
     r"The 'heads_per_layer' parameter of prune_heads must be an int >= 1 and <= 3\. Got 4\."),
    (lambda m: prune_heads(m, 0), lumos.InvalidArgumentError, r"'heads_per_layer' .* >= 1 and <= 3\. Got 0\."),
    (lambda m: prune_heads(m, 1, importance="gradient"), lumos.UnknownNameError,
     r"'importance' parameter of head_scores must be one of 'magnitude', 'ablation'\. Got 'gradient'\."),
    (lambda m: prune_heads(m, 1, importance="ablation"), lumos.InvalidArgumentError,
     r"'texts' parameter is required with importance='ablation'"),
    (lambda m: prune_neurons(m, 1.0), lumos.InvalidArgumentError,
     r"'fraction' parameter of prune_neurons must be a number > 0 and < 1\. Got 1\.0\."),
])
def test_bad_arguments_are_clear_errors(tiny, call, error, pattern):
    """Bad head counts, fractions and rankings name the argument and what is accepted."""
    with pytest.raises(error, match=pattern):
        call(tiny)


def test_models_without_transformer_blocks_are_refused():
    """Structured pruning needs BERT-style blocks; a plain MLP gets an error saying so."""
    net = lumos.as_adapter(torch.nn.Sequential(torch.nn.Linear(3, 2)), class_names=["a", "b"])
    with pytest.raises(lumos.UnsupportedModelError, match="prune_heads needs a transformer with BERT-style blocks"):
        prune_heads(net, 1)


def test_no_hook_is_left_on_either_model(tiny, texts, hook_counts):
    """Pruning (torch's pruning registers pre-hooks), ranking by measured effect and quantizing leave no hook on
    the original or on the result, also when a step raises."""
    from lumos.compression import prune_magnitude, quantize_int8

    before = hook_counts(tiny.model)
    made = [prune_magnitude(tiny, 0.5), prune_heads(tiny, 1, importance="ablation", texts=texts[:2]),
            prune_neurons(tiny, 0.5, importance="activation", texts=texts[:2]), quantize_int8(tiny)]
    with pytest.raises(lumos.InvalidArgumentError):
        prune_heads(tiny, 9)
    assert hook_counts(tiny.model) == before
    for m in made:
        assert not any(count for count in hook_counts(m.model).values()), m.name
