"""Activation capture: named sites, values that match the model's own computation, hooks always removed,
and datasets reduced on the fly or streamed to disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lumos import InvalidArgumentError, UnknownNameError
from lumos.representation import capture, collect, n_layers, sites


def test_zoo_sites_are_named_per_block(tweets_model):
    """MiniLM has 6 blocks; each has attention weights, attention output, neurons and output sites."""
    names = sites(tweets_model)
    assert n_layers(tweets_model) == 6
    assert list(names)[0] == "embeddings"
    for i in range(6):
        for part in ("attention.probs", "attention.heads", "attention.output", "intermediate", "output"):
            assert f"layers.{i}.{part}" in names
    assert len(names) == 1 + 6 * 5


def test_last_block_output_mean_is_the_pooled_embedding(tweets_model, held_out_tweets):
    """The mean of layers.5.output over real tokens is exactly what the zoo head reads (known answer)."""
    enc = tweets_model._tokenize(held_out_tweets)
    with capture(tweets_model, "layers.5.output") as cap, torch.no_grad():
        pooled = tweets_model.model.pool(enc["input_ids"], enc["attention_mask"])
    hidden = cap["layers.5.output"]
    mask = enc["attention_mask"][..., None].float()
    assert torch.allclose((hidden * mask).sum(1) / mask.sum(1), pooled, atol=1e-5)


def test_attention_probs_are_distributions_over_real_tokens(tweets_model, held_out_tweets):
    """Captured attention rows sum to one and give no weight to padding."""
    with capture(tweets_model, "layers.*.attention.probs") as cap:
        tweets_model.predict(held_out_tweets[:2], batch_size=2)  # two lengths: the shorter is padded
    assert len(cap) == 6
    probs = cap["layers.3.attention.probs"]  # (B, H, T, T)
    assert probs.shape[:2] == (2, 12)
    assert torch.allclose(probs.sum(-1), torch.ones(probs.shape[:3]), atol=1e-5)
    short = min(range(2), key=lambda i: len(held_out_tweets[i]))
    n = len(tweets_model.tokenizer(held_out_tweets[short])["input_ids"])
    assert n < probs.shape[-1]
    assert float(probs[short, :, :n, n:].abs().max()) < 1e-6


def test_no_hook_survives_capture_even_when_the_block_raises(tweets_model, hook_counts):
    """Hooks exist only inside the with block: after a normal exit and after an exception, none is left."""
    before = hook_counts(tweets_model.model)
    with capture(tweets_model, ["layers.*.output", "layers.*.attention.probs"]):
        assert hook_counts(tweets_model.model) != before
        tweets_model.predict(["fine"])
    assert hook_counts(tweets_model.model) == before
    with pytest.raises(RuntimeError, match="boom"):
        with capture(tweets_model, "layers.2.output", edit={"layers.2.output": lambda v: v * 0}):
            raise RuntimeError("boom")
    assert hook_counts(tweets_model.model) == before
    with pytest.raises(UnknownNameError):  # a bad name is refused before any hook is placed
        with capture(tweets_model, ["layers.1.output", "layers.9.output"]):
            pass
    assert hook_counts(tweets_model.model) == before


def test_unknown_site_names_the_argument_and_lists_sites(tweets_model):
    """A bad site name says which parameter and what is accepted."""
    with pytest.raises(UnknownNameError, match=r"'sites' parameter.*layers\.0\.attention\.probs"):
        with capture(tweets_model, "layer.3.out"):
            pass
    with pytest.raises(InvalidArgumentError, match="'keep' parameter of capture"):
        with capture(tweets_model, "layers.0.output", keep="some"):
            pass


def test_module_paths_are_sites_and_edit_changes_the_forward_pass():
    """On a plain module, paths are sites; an edit replaces a value downstream (known answer)."""
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0], [0, 1], [1, 1]]))
        model[0].bias.zero_()
        model[2].weight.fill_(1.0)
        model[2].bias.zero_()
    x = torch.tensor([[1.0, -2.0]])
    with capture(model, ["0", "1"], keep="all") as cap, torch.no_grad():
        y = model(x)
    assert torch.equal(cap["0"], torch.tensor([[1.0, -2.0, -1.0]]))
    assert torch.equal(cap["1"], torch.tensor([[1.0, 0.0, 0.0]]))
    assert float(y) == 1.0
    with capture(model, "1", edit={"1": lambda v: v + 1}) as cap, torch.no_grad():
        y_edit = model(x)
    assert float(y_edit) == 4.0 and torch.equal(cap["1"], torch.tensor([[2.0, 1.0, 1.0]]))


def test_gradients_flow_to_undetached_sites():
    """With detach=False a captured value stays in the graph (Grad-CAM and attention x gradient need it)."""
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    x = torch.ones(1, 2, requires_grad=True)
    with capture(model, "0", detach=False) as cap:
        y = model(x)
    (grad,) = torch.autograd.grad(y.sum(), cap["0"])
    assert torch.allclose(grad, model[1].weight)


def test_collect_is_independent_of_batching_and_tokens_mean_matches(tweets_model, held_out_tweets, tmp_path):
    """Reduced activations do not depend on batch size or order; streamed tokens average to the same means."""
    texts = held_out_tweets
    a = collect(tweets_model, texts, batch_size=64)
    b = collect(tweets_model, texts, batch_size=2)
    assert a.sites == ("embeddings", *(f"layers.{i}.output" for i in range(6)))
    for site in a.sites:
        assert a[site].shape == (5, 384)
        np.testing.assert_allclose(a[site], b[site], atol=2e-5)
    tokens = collect(tweets_model, texts, "layers.4.output", reduce="tokens", directory=tmp_path, batch_size=2)
    lengths = [len(tweets_model.tokenizer(t)["input_ids"]) for t in texts]
    assert list(np.diff(tokens.offsets)) == lengths
    for i in range(5):
        np.testing.assert_allclose(tokens.example("layers.4.output", i).mean(0), a["layers.4.output"][i],
                                   atol=2e-5)
    assert (tmp_path / "layers.4.output.npy").is_file()
    with pytest.raises(InvalidArgumentError, match="'directory' parameter of collect"):
        collect(tweets_model, texts, reduce="tokens")
    with pytest.raises(InvalidArgumentError, match="hidden-state sites"):
        collect(tweets_model, texts, "layers.0.attention.probs")
