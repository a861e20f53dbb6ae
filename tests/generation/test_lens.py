"""The logit lens: the last layer is the model's own output distribution, every other layer is the model's final
norm and head applied to that layer's residual stream, targets follow the sequence, and results round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import lumos
from lumos.generation import LogitLens, logit_lens

PROMPT = "The capital of France is Paris and the cat"


def test_last_layer_is_the_models_output(tiny_lm):
    """At the last layer, top-k probabilities and ids and the target's probability equal the softmax of the
    model's own logits (lm.run) at every position."""
    lens = logit_lens(tiny_lm, PROMPT, k=4)
    with torch.inference_mode():
        probs = torch.softmax(tiny_lm.run({"input_ids": torch.tensor([lens.ids])})[0].double(), -1)  # (T, V)
    top = probs.topk(4, dim=-1)
    assert lens.layers[-1] == tiny_lm.n_layers and lens.layer_names[-1] == f"layers.{tiny_lm.n_layers - 1}.output"
    assert torch.allclose(torch.from_numpy(lens.top_probs[-1]), top.values, atol=1e-6)
    np.testing.assert_array_equal(lens.top_ids[-1], top.indices.numpy())
    target = probs.gather(1, torch.tensor(lens.target_ids)[:, None])[:, 0]
    assert torch.allclose(torch.from_numpy(lens.target_prob[-1]), target, atol=1e-6)
    expected_rank = (probs > target[:, None]).sum(-1) + 1
    np.testing.assert_array_equal(lens.target_rank[-1], expected_rank.numpy())


def test_every_layer_reads_that_layers_hidden_states(tiny_lm):
    """Layer l of the lens (0: embeddings) is unembed of Hugging Face's hidden_states[l], whose entries before
    the last are the unnormalised residual stream: the capture reads the right states."""
    lens = logit_lens(tiny_lm, PROMPT, k=3)
    with torch.inference_mode():
        hidden = tiny_lm.module(input_ids=torch.tensor([lens.ids]), output_hidden_states=True).hidden_states
        for layer in range(tiny_lm.n_layers):  # the last entry is already normalised (Llama), so skip it
            probs = torch.softmax(tiny_lm.unembed(hidden[layer][0]).double(), -1)
            top = probs.topk(3, dim=-1)
            assert torch.allclose(torch.from_numpy(lens.top_probs[layer]), top.values, atol=1e-6)
            target = probs.gather(1, torch.tensor(lens.target_ids)[:, None])[:, 0]
            assert torch.allclose(torch.from_numpy(lens.target_prob[layer]), target, atol=1e-6)
    assert lens.layer_names[:2] == ("embeddings", "layers.0.output")
    assert lens.top_probs.shape == (tiny_lm.n_layers + 1, len(lens.ids), 3)
    assert np.all(np.diff(lens.top_probs, axis=-1) <= 0)  # most probable first


def test_targets_follow_the_sequence(tiny_lm):
    """The target at each position is the next token of the sequence, and the model's greedy choice at the last;
    for a greedy Generation every generated token is the last layer's top-1 (rank 1)."""
    g = tiny_lm.generate(PROMPT, max_new_tokens=4, stop_at_eos=False)
    lens = logit_lens(tiny_lm, g)
    assert lens.target_ids[:-1] == g.ids[1:]
    assert lens.n_prompt == g.n_prompt and lens.tokens == g.tokens
    assert np.all(lens.target_rank[-1, g.n_prompt - 1:] == 1)
    assert lens.target_tokens[-1] == lens.top_tokens[-1, -1, 0]
    assert lens.first_layer() is not None and lens.first_layer() in lens.layers


def test_prompt_targets_end_with_the_greedy_token(tiny_lm):
    """For a prompt, the last target is the token generate() would write first."""
    lens = logit_lens(tiny_lm, PROMPT)
    first = tiny_lm.generate(PROMPT, max_new_tokens=1, stop_at_eos=False).generated_ids[0]
    assert lens.target_ids[-1] == first and lens.target_rank[-1, -1] == 1


def test_chosen_layers_equal_those_of_the_full_lens(tiny_lm):
    """layers=[0, -1] reads the embeddings and the last block, the same rows as the full lens."""
    full = logit_lens(tiny_lm, PROMPT, k=2)
    some = logit_lens(tiny_lm, PROMPT, k=2, layers=[-1, 0])
    assert some.layers == (0, tiny_lm.n_layers)
    np.testing.assert_array_equal(some.top_ids, full.top_ids[[0, -1]])
    np.testing.assert_allclose(some.target_prob, full.target_prob[[0, -1]], rtol=0, atol=1e-12)


def test_json_round_trip(tiny_lm):
    """to_dict is JSON-ready, and from_dict gives back the same arrays and texts."""
    lens = logit_lens(tiny_lm, PROMPT, k=3)
    back = LogitLens.from_dict(json.loads(json.dumps(lens.to_dict())))
    for name in ("top_ids", "top_tokens", "top_probs", "target_rank", "target_prob"):
        np.testing.assert_array_equal(getattr(back, name), getattr(lens, name))
    assert (back.tokens, back.layers, back.layer_names, back.target_tokens) == \
        (lens.tokens, lens.layers, lens.layer_names, lens.target_tokens)
    with pytest.raises(lumos.LumosError, match="format"):
        LogitLens.from_dict({"format": "other"})


@pytest.mark.parametrize("kwargs, argument", [({"k": 0}, "'k'"), ({"layers": [99]}, "'layers'"),
                                              ({"layers": "last"}, "'layers'")])
def test_bad_arguments_name_the_argument(tiny_llama, kwargs, argument):
    """An invalid k or layer raises a LumosError that names the argument."""
    with pytest.raises(lumos.LumosError, match=argument):
        logit_lens(tiny_llama, PROMPT, **kwargs)


def test_bad_inputs_and_models(tiny_llama):
    """An empty prompt, a non-text input and a model that is not a causal LM give clear errors."""
    with pytest.raises(lumos.LumosError, match="empty"):
        logit_lens(tiny_llama, "   ")
    with pytest.raises(lumos.LumosError, match="'inputs'"):
        logit_lens(tiny_llama, 3)
    classifier = lumos.as_adapter(lambda texts: np.ones((len(texts), 2)) / 2, class_names=["a", "b"])
    with pytest.raises(lumos.UnsupportedModelError, match="causal language model"):
        logit_lens(classifier, PROMPT)


def test_no_hook_survives(tiny_llama, hook_counts, monkeypatch):
    """The lens leaves no hook on the model, whether it returned or the model raised inside the capture."""
    before = hook_counts(tiny_llama.module)
    logit_lens(tiny_llama, PROMPT)
    assert hook_counts(tiny_llama.module) == before

    def broken(*args, **kwargs):
        assert hook_counts(tiny_llama.module) != before  # the capture's hooks are on while the model runs
        raise RuntimeError("model failed")

    monkeypatch.setattr(tiny_llama, "run", broken)
    with pytest.raises(RuntimeError, match="model failed"):
        logit_lens(tiny_llama, PROMPT)
    assert hook_counts(tiny_llama.module) == before


def test_positions_read_in_chunks_equal_one_read(tiny_llama, monkeypatch):
    """Reading a layer's positions a few at a time (as long prompts are) gives the same lens as one read."""
    from lumos.generation import lens as lens_module

    whole = logit_lens(tiny_llama, PROMPT, k=3)
    monkeypatch.setattr(lens_module, "POSITIONS_PER_READ", 2)
    chunked = logit_lens(tiny_llama, PROMPT, k=3)
    np.testing.assert_array_equal(chunked.top_ids, whole.top_ids)
    np.testing.assert_array_equal(chunked.target_rank, whole.target_rank)
    np.testing.assert_allclose(chunked.target_prob, whole.target_prob, rtol=1e-6, atol=0)  # float32 logits
