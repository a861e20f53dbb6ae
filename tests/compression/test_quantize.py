"""int8 dynamic quantization: outputs close to float32 on held-out data (tolerances measured), gradients pass
straight through, int8 weights on disk, the original untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lumos
from lumos.compression import Int8Linear, prune_heads, prune_magnitude, quantize_int8, save
from lumos.compression.quantize import quantize_module
from lumos.compression.storage import write_weights


@pytest.fixture(scope="module")
def int8_tweets(tweets_model):
    return quantize_int8(tweets_model)


def test_int8_outputs_stay_close_to_float32_on_held_out_tweets(tweets_model, int8_tweets):
    """On 300 validation tweets (measured 2026-12-02: agreement 0.967, mean max |Δp| 0.052, accuracy 0.840 ->
    0.837) the int8 model agrees with float32 on >= 95% of predictions, moves probabilities by <= 0.08 on
    average, and loses at most 2 points of accuracy."""
    data = lumos.zoo.dataset("airline-tweets").validation
    texts, labels = list(data.texts[:300]), np.asarray(data.labels[:300])
    p, q = tweets_model.predict_proba(texts), int8_tweets.predict_proba(texts)
    assert (p.argmax(1) == q.argmax(1)).mean() >= 0.95
    assert np.abs(p - q).max(1).mean() <= 0.08
    assert (q.argmax(1) == labels).mean() >= (p.argmax(1) == labels).mean() - 0.02


def test_every_linear_layer_is_int8_and_the_original_is_not(tweets_model, int8_tweets):
    """All 38 linear layers of the copy run int8 (head included); the zoo model keeps its float32 layers."""
    layers = [m for m in int8_tweets.model.modules() if isinstance(m, Int8Linear)]
    assert len(layers) == 38 and all(m.weight_int8().dtype == torch.int8 for m in layers)
    assert not any(isinstance(m, torch.nn.Linear) for m in int8_tweets.model.modules())
    assert sum(isinstance(m, torch.nn.Linear) for m in tweets_model.model.modules()) == 38
    assert int8_tweets.compression == ({"method": "int8", "value": None, "per_channel": True},)


def test_gradients_pass_straight_through_the_dequantized_weights():
    """d/dx of an int8 layer is the gradient of the same layer with its dequantized weights."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(6, 4))
        x = torch.randn(3, 6, requires_grad=True)
    layer = quantize_module(net)[0]
    assert isinstance(layer, Int8Linear)
    out = layer(x)
    np.testing.assert_allclose(out.detach(), layer.quantized(x.detach()))  # forward: the int8 kernel itself
    (out * torch.arange(4.0)).sum().backward()
    np.testing.assert_allclose(x.grad, (torch.arange(4.0) @ layer.dequantized_weight()).expand(3, 6), rtol=1e-6)


def test_attribution_methods_run_on_the_int8_model(int8_tweets, texts):
    """Gradient and perturbation methods explain the quantized model. Integrated Gradients' convergence delta
    shows what the straight-through gradient cannot see: int8 outputs jump as activations cross rounding
    steps (measured on this tweet at 64 steps: delta 0.24 for an output gap of 0.49, where float32 has 1e-5)."""
    e = lumos.IntegratedGradients(int8_tweets, n_steps=64).attribute(texts[0])
    assert np.isfinite(e.values).all() and np.abs(e.values).sum() > 0
    assert e.convergence_delta is not None and np.isfinite(e.convergence_delta)
    o = lumos.Occlusion(int8_tweets).attribute(texts[0])
    assert o.target == e.target and np.isfinite(o.values).all()


def test_int8_weights_are_stored_as_int8_and_reload_exactly(tweets_model, int8_tweets, tmp_path, texts):
    """On disk each int8 weight takes one byte (the 46.9 MB of float32 token embeddings stay): the file is the
    dense file less 3 bytes per linear weight, up to scales; the reloaded model predicts the same logits."""
    dense = write_weights(tweets_model, tmp_path / "dense.safetensors")
    path = save(int8_tweets, tmp_path / "int8")
    size = (path / "model.safetensors").stat().st_size
    layers = [m for m in int8_tweets.model.modules() if isinstance(m, Int8Linear)]
    linear = sum(m.weight_int8().numel() for m in layers)
    channels = sum(m.out_features for m in layers)  # a float32 scale and an int32 zero point per output row
    assert dense - 3 * linear <= size <= dense - 3 * linear + 8 * channels + 20_000
    again = lumos.load_model(str(path))
    np.testing.assert_array_equal(again.predict(texts), int8_tweets.predict(texts))


def test_int8_after_structured_pruning_chains(tiny, texts):
    """Pruning then quantizing is allowed (the record lists both); quantizing then pruning is refused."""
    both = quantize_int8(prune_heads(tiny, 1))
    assert [s["method"] for s in both.compression] == ["heads", "int8"]
    assert both.name == "tiny [heads:1 + int8]"
    with pytest.raises(lumos.UnsupportedModelError, match="already int8-quantized"):
        prune_magnitude(both, 0.5)


def test_per_channel_must_be_a_bool(tiny):
    """per_channel='yes' is an error naming the parameter."""
    with pytest.raises(lumos.InvalidTypeError, match="'per_channel' parameter of quantize_int8 must be a bool"):
        quantize_int8(tiny, per_channel="yes")
