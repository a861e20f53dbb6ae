"""Probes, projections and neuron statistics: known answers on purpose-built activations, and the zoo model's
held-out tweets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lumos import InvalidArgumentError, zoo
from lumos.representation import collect, neuron_stats, probe, project


def planted(n: int = 240, seed: int = 0):
    """Three classes; site 'signal' carries the class in two directions of 10, site 'noise' carries nothing."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = np.array([[4.0, 0.0], [-2.0, 3.5], [-2.0, -3.5]])
    signal = rng.normal(size=(n, 10)) * 0.3
    signal[:, :2] += centres[y]
    return {"signal": signal, "noise": rng.normal(size=(n, 10))}, y


def test_probe_finds_planted_signal_and_not_noise():
    """A linearly separable site is probed at ~100%; a noise site stays near chance (1/3)."""
    acts, y = planted()
    result = probe(acts, y, cv=4)
    assert result.sites == ("signal", "noise") and result.folds.shape == (2, 4)
    assert result.accuracy[0] > 0.98
    assert abs(result.accuracy[1] - 1 / 3) < 0.12
    assert result.chance == pytest.approx(1 / 3) and result.best()[0] == "signal"


def test_pca_lda_autoencoder_on_planted_structure():
    """PCA is fitted on the given rows (centred coordinates) and keeps the planted plane's variance; LDA
    separates the classes; the autoencoder reconstructs a 2-D plane embedded in 10-D and is reproducible
    without touching torch's global random state."""
    acts, y = planted()
    pca = project(acts, y, method="pca")["signal"]
    assert pca.coords.shape == (240, 2) and np.abs(pca.coords.mean(0)).max() < 1e-9
    assert pca.quality["explained_variance"] > 0.9
    lda = project(acts, y, method="lda")["signal"].coords
    means = np.array([lda[y == k].mean(0) for k in range(3)])
    spread = max(lda[y == k].std(0).max() for k in range(3))
    assert min(np.linalg.norm(means[i] - means[j]) for i in range(3) for j in range(i)) > 5 * spread
    rng = np.random.default_rng(1)
    plane = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 10))
    state = torch.random.get_rng_state()
    first = project({"plane": plane}, method="autoencoder", seed=3)["plane"]
    assert torch.equal(state, torch.random.get_rng_state())
    assert first.quality["reconstruction_r2"] > 0.9
    np.testing.assert_array_equal(first.coords, project({"plane": plane}, method="autoencoder", seed=3)["plane"].coords)


def test_neuron_stats_known_answers():
    """A neuron that is never positive is dead; a neuron that tracks the label has the largest F."""
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    v = rng.normal(size=(90, 4))
    v[:, 1] = -np.abs(v[:, 1]) - 0.1
    v[:, 2] += 3 * y
    stats = neuron_stats({"site": v}, y)["site"]
    assert stats.dead == 1 and stats.active[1] == 0
    assert stats.top(1)[0][0] == 2
    np.testing.assert_allclose(stats.mean, v.mean(0))


def test_bad_arguments_are_named():
    """Errors name the argument and what is accepted."""
    acts, y = planted(60)
    with pytest.raises(InvalidArgumentError, match="'labels' parameter of project is required with method='lda'"):
        project(acts, method="lda")
    with pytest.raises(InvalidArgumentError, match="'method' parameter of project"):
        project(acts, y, method="tsne")
    with pytest.raises(InvalidArgumentError, match="'y' parameter of probe must hold one value per example"):
        probe(acts, y[:10])
    with pytest.raises(InvalidArgumentError, match="at least 2 classes"):
        probe(acts, np.zeros(60, dtype=int))


def test_zoo_probe_on_held_out_tweets(tweets_model):
    """On validation tweets (never used to fit the head), the last block's mean-pooled states are probed for
    sentiment well above the majority class; projections are fitted on those same held-out rows."""
    val = zoo.dataset("airline-tweets").validation
    texts, labels = list(val.texts[:150]), np.asarray(val.labels[:150])
    acts = collect(tweets_model, texts, ["embeddings", "layers.5.output"])
    result = probe(acts, labels, cv=3)
    assert result.accuracy[1] > result.chance + 0.05
    proj = project(acts, labels, method="lda")
    assert proj["layers.5.output"].coords.shape == (150, 2)
