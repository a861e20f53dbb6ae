"""The tweets head trains on cached backbone features: embedding every split in one call gives exactly what one
call per split gave (the head's numbers are unchanged), and the features' key names what they depend on."""

from __future__ import annotations

import torch

from lumos.zoo import tweets


def test_grouped_embedding_equals_one_call_per_group():
    """Batches never cross a group, so one call over two splits equals a call per split, bit for bit."""
    encoder, tokenizer = tweets.load_encoder()
    model = tweets.MeanPoolClassifier(encoder, 3).eval()
    data = tweets.load_airline_tweets()
    a, b = list(data.train.texts[:7]), list(data.test.texts[:5])
    together = tweets.embed(model, tokenizer, a + b, batch_size=4, progress=False, groups=[7, 5])
    apart = torch.cat([tweets.embed(model, tokenizer, a, batch_size=4, progress=False),
                       tweets.embed(model, tokenizer, b, batch_size=4, progress=False)])
    assert torch.equal(together, apart)


def test_feature_key_names_weights_corpus_and_split():
    """The key holds the encoder's weights id, the corpus hash, the split seed and sizes, and the pooling recipe."""
    data = tweets.load_airline_tweets()
    key = tweets.features_key(data)
    assert key["weights"].startswith("sha256:") and key["corpus_sha256"] == tweets.corpus_sha256()
    assert key["sizes"] == {"train": len(data.train), "validation": len(data.validation), "test": len(data.test)}
    assert key["split_seed"] == tweets.SPLIT_SEED and key["features"] == tweets.FEATURES_RECIPE
