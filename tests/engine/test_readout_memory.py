"""The readout is applied where outputs are produced: perturbation methods and metrics on a model with a
50,000-way output keep one float per row, not one per row and class."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

import lumos
from lumos.engine import Batcher
from lumos.maskers import TabularMasker
from lumos.models import TabularTorchAdapter
from lumos.readout import Readout

N_FEATURES = 12


def wide_model(n_classes: int) -> TabularTorchAdapter:
    """A linear model with ``n_classes`` outputs (class 0 = the sum of the features, so its Shapley values are
    known), and one background row of zeros."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(N_FEATURES, n_classes)
    with torch.no_grad():
        layer.weight[0] = 1.0
        layer.bias[0] = 0.0
    names = [f"c{i}" for i in range(n_classes)]
    return TabularTorchAdapter(layer, class_names=names, background=np.zeros((1, N_FEATURES)))


def peak_bytes(fn) -> int:
    """The peak of Python/numpy allocations (tracemalloc) while ``fn`` runs."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_kernel_shap_peak_memory_is_flat_in_the_number_of_classes():
    """KernelSHAP with 500 evaluations: going from 500 to 50,000 classes adds a few rows of outputs (the
    prediction of the example), far below what 500 rows x 50,000 classes of float64 (200 MB) would be."""
    x = np.linspace(0.5, 1.7, N_FEATURES)
    peaks = {}
    for n_classes in (500, 50_000):
        adapter = wide_model(n_classes)
        method = lumos.KernelSHAP(adapter, n_evals=500)
        method.attribute(x, target=0)  # warm-up: first-call allocations (imports, caches) are not counted
        explanation = None

        def run():
            nonlocal explanation
            explanation = method.attribute(x, target=0)

        peaks[n_classes] = peak_bytes(run)
        assert explanation.cost.n_evals > 400
        np.testing.assert_allclose(explanation.values, x, atol=1e-4)  # a linear class: values = x - 0
    one_row = 50_000 * 8
    assert peaks[50_000] - peaks[500] < 12 * one_row, peaks
    assert peaks[50_000] < 500 * one_row / 10, peaks


def test_batcher_with_a_readout_keeps_one_float_per_row():
    """Batcher.run with a per-row readout returns (rows,) values equal to the gathered full outputs."""
    adapter = wide_model(2_000)
    rows = list(np.random.default_rng(0).normal(size=(37, N_FEATURES)).astype(np.float32))
    targets = np.arange(37) % 2_000 * 7 % 2_000
    full = Batcher(adapter, batch_size=8).run(rows)
    for quantity in ("logit", "probability", "log_probability"):
        got = Batcher(adapter, batch_size=8).run(rows, readout=Readout(targets, quantity))
        assert got.shape == (37,)
        z = full - full.max(1, keepdims=True)
        expected = {"logit": full, "probability": np.exp(z) / np.exp(z).sum(1, keepdims=True),
                    "log_probability": z - np.log(np.exp(z).sum(1, keepdims=True))}[quantity]
        np.testing.assert_allclose(got, expected[np.arange(37), targets], rtol=1e-6, atol=1e-9)


def test_metric_game_reads_only_the_target():
    """faithfulness on the wide model gives the same curve as on the same model cut to its first two classes
    (the readout only ever reads the target's column; probabilities differ, logits do not)."""
    x = np.linspace(0.5, 1.7, N_FEATURES)
    wide = wide_model(50_000)
    narrow_layer = torch.nn.Linear(N_FEATURES, 2)
    with torch.no_grad():
        narrow_layer.weight.copy_(wide.module.weight[:2])
        narrow_layer.bias.copy_(wide.module.bias[:2])
    narrow = TabularTorchAdapter(narrow_layer, class_names=["c0", "c1"], background=np.zeros((1, N_FEATURES)))
    results = []
    for adapter in (wide, narrow):
        e = lumos.Occlusion(adapter).attribute(x, target=0)
        results.append(lumos.metrics.faithfulness(adapter, e, inputs=[x], output="logit")[0])
    np.testing.assert_allclose(results[0].deletion_auc, results[1].deletion_auc, rtol=1e-6)


def test_readout_contrast_and_errors():
    """A contrast reads target minus foil; a bad target or quantity is a clear error."""
    raw = np.array([[1.0, 3.0, 0.0], [2.0, 0.0, 5.0]])
    r = Readout(target=np.array([1, 2]), contrast=0)
    np.testing.assert_array_equal(r.apply(raw), [2.0, 3.0])
    np.testing.assert_array_equal(r.apply(torch.tensor(raw)).numpy(), [2.0, 3.0])
    with pytest.raises(lumos.InvalidArgumentError, match="'quantity' parameter of Readout"):
        Readout(0, quantity="margin")
    with pytest.raises(lumos.InvalidArgumentError, match="'target' of a Readout"):
        Readout([0.5])


def test_readout_at_a_position_of_sequence_outputs():
    """For (rows, T, V) outputs (a causal LM's logits) the readout reads each row's position (negative from the
    end), in torch and numpy alike, and a position is required there and refused for 2-D outputs."""
    logits = np.random.default_rng(0).normal(size=(3, 5, 7))
    r = Readout(target=np.array([1, 2, 3]), position=np.array([0, -1, 2]), quantity="log_probability")
    z = logits[[0, 1, 2], [0, 4, 2]]
    expected = z[np.arange(3), [1, 2, 3]] - np.log(np.exp(z).sum(1))
    np.testing.assert_allclose(r.apply(logits), expected, rtol=1e-12)
    np.testing.assert_allclose(r.apply(torch.tensor(logits)).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(r.take([2, 0]).apply(logits[[2, 0]]), expected[[2, 0]], rtol=1e-12)
    with pytest.raises(lumos.InvalidArgumentError, match="with a 'position'. Got 3-D outputs without a position"):
        Readout(0).apply(logits)
    with pytest.raises(lumos.InvalidArgumentError, match="Got 2-D outputs with a position"):
        Readout(0, position=-1).apply(logits[:, 0])
