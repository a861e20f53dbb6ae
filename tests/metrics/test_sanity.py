"""Model-parameter randomization: gradient explanations of the zoo model change when its layers are
randomized; a model-independent "attribution" (word length) does not and is flagged; the original model is
never modified."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lumos
from lumos.metrics import ModelIndependent, layer_groups, model_randomization


def word_length(labels, example):
    return [float(len(w)) for w in labels]


@pytest.fixture(scope="module")
def texts(held_out_tweets):
    return held_out_tweets[1:3]


def test_gradients_change_and_word_length_is_flagged(tweets_model, texts):
    """Saliency's rank correlation with the trained model's explanations falls well below 1 once every layer
    is random (it passes); word length stays at correlation 1 at every stage (it fails)."""
    state = {k: v.clone() for k, v in tweets_model.model.state_dict().items()}
    before = tweets_model.predict(texts)
    grad = model_randomization(lumos.GradientXInput(tweets_model), texts)
    length = model_randomization(ModelIndependent(tweets_model, word_length, name="word_length"), texts)
    assert grad.layers == length.layers and grad.layers[-1] == "encoder.embeddings"
    assert grad.correlation.shape == (len(grad.layers), len(texts))
    assert grad.final < 0.5 and grad.passed
    np.testing.assert_allclose(length.mean, 1.0)
    assert not length.passed
    # The original model is untouched: same weights, same outputs.
    for k, v in tweets_model.model.state_dict().items():
        assert torch.equal(v, state[k]), k
    np.testing.assert_array_equal(tweets_model.predict(texts), before)


def test_layer_groups_top_down():
    """A layer stack is split per block, top first: head, blocks last to first, embeddings."""

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
            self.head = nn.Linear(4, 2)

    groups = layer_groups(Tiny())
    assert [name for name, _ in groups] == ["head", "blocks.2", "blocks.1", "blocks.0", "embed"]
    assert groups[1][1] == ["blocks.2.weight", "blocks.2.bias"]
    plain = layer_groups(nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2)))
    assert [name for name, _ in plain] == ["2", "0"]


def test_partial_cascade_and_errors(tweets_model, texts):
    """layers=k randomizes only the top k groups; bad arguments are named."""
    r = model_randomization(lumos.Saliency(tweets_model), texts[:1], layers=2)
    assert r.layers == ("encoder.pooler, head", "encoder.encoder.layer.5") and r.correlation.shape == (2, 1)
    with pytest.raises(lumos.InvalidArgumentError, match="'layers' parameter of model_randomization"):
        model_randomization(lumos.Saliency(tweets_model), texts[:1], layers=99)
    with pytest.raises(lumos.InvalidArgumentError, match="'method' parameter of model_randomization"):
        model_randomization("saliency", texts[:1])
    black_box = lumos.CallableAdapter(lambda rows: np.ones((len(rows), 2)) / 2, class_names=["a", "b"])
    with pytest.raises(lumos.UnsupportedModelError, match="needs a PyTorch model"):
        model_randomization(ModelIndependent(black_box, lambda labels, x: [1.0] * len(labels),
                                             masker=lumos.maskers.TabularMasker(np.zeros((1, 3)))),
                            [np.zeros(3)])
