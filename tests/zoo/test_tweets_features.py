"""The tweets head trains on cached backbone features: embedding every split in one call gives exactly what one
call per split gave (the head's numbers are unchanged), and the features' key names what they depend on."""

from __future__ import annotations

import pytest
import torch

from lumos.zoo import tweets


@pytest.mark.slow
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


@pytest.mark.slow
def test_backbone_features_say_what_they_do_and_are_computed_once(tmp_path, capsys):
    """The first call tells the user it is embedding the tweets (and roughly how long that takes) and stores the
    features; the second reads them silently; the features are the mean-pooled embeddings of each split."""
    import numpy as np

    full = tweets.load_airline_tweets()
    split = lambda s, n: tweets.TextSplit(tuple(full.split(s).texts[:n]), np.array(full.split(s).labels[:n]))
    small = tweets.TextDataset(name="airline-tweets", class_names=tweets.CLASS_NAMES, train=split("train", 3),
                               validation=split("validation", 2), test=split("test", 2), source="", description="")
    first = tweets.backbone_features(small, tmp_path, progress=False)
    said = capsys.readouterr().err
    assert "embedding 7 tweets through MiniLM once" in said and "min" in said
    second = tweets.backbone_features(small, tmp_path, progress=False)
    assert capsys.readouterr().err == ""
    assert {k: v.shape for k, v in first.items()} == {"train": (3, 384), "validation": (2, 384), "test": (2, 384)}
    for name in first:
        assert torch.equal(first[name], second[name])
