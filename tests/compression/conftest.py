"""A tiny BERT classifier with random weights, for known answers that need many fast forward passes."""

from __future__ import annotations

import pytest
import torch

import lumos
from lumos.zoo.tweets import MeanPoolClassifier, load_encoder


def tiny_bert(seed: int = 0, *, heads: int = 4, layers: int = 3, dropout: float = 0.1) -> lumos.TransformersAdapter:
    """MiniLM's tokenizer over a 3-block BERT of width 32 (4 heads of 8), mean pooling and a 3-class head."""
    from transformers import BertConfig, BertModel

    _, tokenizer = load_encoder()
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=64, max_position_embeddings=128,
                        hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                        attn_implementation="eager")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = MeanPoolClassifier(BertModel(config, add_pooling_layer=False), 3)
    return lumos.TransformersAdapter(model, tokenizer, class_names=["negative", "neutral", "positive"], name="tiny")


@pytest.fixture()
def tiny():
    return tiny_bert()


@pytest.fixture()
def make_tiny():
    """The tiny_bert factory (seed, heads, layers, dropout)."""
    return tiny_bert


@pytest.fixture(scope="session")
def texts() -> list[str]:
    """Twelve validation tweets of different lengths."""
    return list(lumos.zoo.dataset("airline-tweets").validation.texts[:12])


@pytest.fixture()
def unchanged():
    """``check = unchanged(adapter)`` snapshots the adapter's module; ``check()`` is True while no tensor of
    it has changed."""

    def take(adapter):
        saved = {k: v.detach().clone() for k, v in adapter.model.state_dict().items()}

        def check() -> bool:
            now = adapter.model.state_dict()
            return now.keys() == saved.keys() and all(torch.equal(now[k], saved[k]) for k in saved)

        return check

    return take

