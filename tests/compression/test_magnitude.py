"""Global magnitude pruning: exact sparsity, the smallest weights go, the zeros are permanent, and the
original is untouched; pruned models save fewer bytes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lumos
from lumos.compression import prune_magnitude, save
from lumos.compression.storage import write_weights
from lumos.compression.magnitude import prunable_weights


def _prunable(adapter) -> torch.Tensor:
    return torch.cat([m.weight.detach().reshape(-1) for _, m in prunable_weights(adapter.model)])


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9])
def test_exact_fraction_of_prunable_weights_is_zero(tiny, sparsity):
    """Pruning at sparsity s leaves exactly round(s * n) of the n prunable weights at zero."""
    pruned = prune_magnitude(tiny, sparsity)
    w = _prunable(pruned)
    assert int((w == 0).sum()) == round(sparsity * w.numel())
    assert pruned.compression[-1] == {"method": "prune", "value": sparsity, "prunable": w.numel(),
                                      "zeros": round(sparsity * w.numel())}


def test_the_smallest_weights_are_the_ones_removed(tiny):
    """Every weight that survives is at least as large in magnitude as every weight removed, across layers."""
    before = _prunable(tiny).abs()
    after = _prunable(prune_magnitude(tiny, 0.4))
    removed, kept = before[after == 0], before[after != 0]
    assert removed.max() <= kept.min()
    assert torch.equal(after[after != 0].abs(), kept)  # survivors keep their exact values


def test_zoo_model_at_half_sparsity_leaves_no_pruning_hooks_and_original_intact(tweets_model, unchanged):
    """On the real MiniLM classifier: half of the 10.8M linear weights become zero, the zeros are plain weights
    (no mask reparametrisation or hook left), and the zoo model itself is not modified."""
    check = unchanged(tweets_model)
    pruned = prune_magnitude(tweets_model, 0.5)
    w = _prunable(pruned)
    assert w.numel() == 10_765_440 and int((w == 0).sum()) == 5_382_720
    assert not any(m._forward_pre_hooks for m in pruned.model.modules())
    assert not any(name.endswith(("_orig", "_mask")) for name, _ in pruned.model.named_parameters())
    assert not any(name.endswith("_mask") for name, _ in pruned.model.named_buffers())
    assert check()
    assert pruned.model is not tweets_model.model and pruned.tokenizer is tweets_model.tokenizer


def test_pruned_weights_are_stored_sparsely(tiny, tmp_path):
    """Zeros stored densely save nothing, so pruned tensors are written as values + bitmap: each pruned float32
    weight saves its 4 bytes, less one bit of bitmap for every weight of a sparse tensor."""
    dense = write_weights(tiny, tmp_path / "dense.safetensors")
    sparse = write_weights(prune_magnitude(tiny, 0.8), tmp_path / "sparse.safetensors")
    layers = [m.weight.numel() for _, m in prunable_weights(tiny.model)]
    expected = sum(0.8 * n * 4 - n / 8 for n in layers)
    # The file's JSON header grows by two entries (NAME.values, NAME.bitmap) per sparse tensor.
    assert expected - 250 * len(layers) <= dense - sparse <= expected


def test_zoo_model_round_trip_through_load_model(tweets_model, tmp_path, texts):
    """A pruned zoo model saved to a directory (sparse safetensors + config, about 0.78x the dense bytes) is an
    ordinary model for lumos.load_model and the CLI, and predicts exactly what the pruned model does."""
    pruned = prune_magnitude(tweets_model, 0.5)
    path = save(pruned, tmp_path / "p")
    dense = write_weights(tweets_model, tmp_path / "dense.safetensors")
    assert (path / "model.safetensors").stat().st_size < 0.8 * dense
    assert sorted(p.name for p in path.iterdir()) == ["lumos-compressed.json", "model.safetensors"]
    again = lumos.load_model(str(path))
    np.testing.assert_array_equal(again.predict(texts), pruned.predict(texts))
    assert again.name == "tweets-sentiment [prune:0.5]" and again.card["original"] == "tweets-sentiment"


@pytest.mark.parametrize("sparsity, error, pattern", [
    (1.0, lumos.InvalidArgumentError, r"^The 'sparsity' parameter of prune_magnitude must be a number >= 0 and < 1\. "
                                      r"Got 1\.0\.$"),
    (-0.1, lumos.InvalidArgumentError, r"^The 'sparsity' parameter of prune_magnitude must be a number >= 0 and < 1\. "
                                       r"Got -0\.1\.$"),
    ("half", lumos.InvalidTypeError, r"'sparsity' parameter of prune_magnitude must be a number"),
])
def test_bad_sparsity_is_a_clear_error(tiny, sparsity, error, pattern):
    """A sparsity outside [0, 1) or not a number names the parameter and what is accepted."""
    with pytest.raises(error, match=pattern):
        prune_magnitude(tiny, sparsity)


def test_models_without_torch_weights_are_refused():
    """A black-box callable has no weights to prune: the error says what is needed."""
    box = lumos.as_adapter(lambda xs: np.zeros((len(xs), 2)), class_names=["a", "b"])
    with pytest.raises(lumos.UnsupportedModelError, match="prune_magnitude needs a PyTorch model"):
        prune_magnitude(box, 0.5)


def test_plain_torch_modules_prune_too():
    """Magnitude pruning is not transformer-specific: a tabular MLP's linear layers are pruned globally."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 2))
    pruned = prune_magnitude(lumos.as_adapter(net, class_names=["a", "b"]), 0.25)
    w = torch.cat([pruned.model[0].weight.reshape(-1), pruned.model[2].weight.reshape(-1)])
    assert int((w == 0).sum()) == round(0.25 * (5 * 16 + 16 * 2))
    assert int((net[0].weight == 0).sum()) == 0
