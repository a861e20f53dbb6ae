"""The causal-LM adapter: logits equal the plain Hugging Face model's, read only where asked, padding never
changes a row, seeded sampling, teacher forcing, model directories, and clear errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lumos
from lumos.models import CausalLMAdapter
from lumos.readout import Readout


def test_logits_match_the_plain_model(tiny_lm):
    """run() returns the model's own logits, bit for bit; with positions, exactly those rows of them."""
    ids = torch.tensor([tiny_lm.encode_prompt("the cat sat on the mat")])
    with torch.no_grad():
        plain = tiny_lm.module(input_ids=ids).logits
        ours = tiny_lm.run({"input_ids": ids})
        some = tiny_lm.run({"input_ids": ids}, positions=torch.tensor([1, 4]))
    assert torch.equal(plain, ours)
    torch.testing.assert_close(some, plain[:, [1, 4]], rtol=0, atol=1e-6)


def test_padding_never_changes_a_row(tiny_lm):
    """Rows of different lengths batched together (right padding) read what each row reads alone."""
    rows = [np.array(tiny_lm.encode_prompt(t)) for t in ("the cat", "the dog sat on the log", "Alice gave Bob")]
    readout = Readout(np.array([5, 9, 11]), "log_probability", position=np.array([-1, -2, -1]))
    together = tiny_lm.predict(rows, readout=readout, batch_size=3)
    alone = [tiny_lm.predict([r], readout=readout.take([i]))[0] for i, r in enumerate(rows)]
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_greedy_generation_is_the_argmax_and_scores_match(tiny_lm):
    g = tiny_lm.generate("the cat sat", max_new_tokens=4, stop_at_eos=False)
    assert g.n_generated == 4 and g.text == "".join(g.tokens)
    with torch.no_grad():
        logits = tiny_lm.module(input_ids=torch.tensor([g.ids])).logits[0]
    assert all(int(logits[g.n_prompt - 1 + k].argmax()) == g.ids[g.n_prompt + k] for k in range(4))
    np.testing.assert_allclose(tiny_lm.score(g.ids, g.n_prompt), g.log_probs, atol=1e-5)
    again = tiny_lm.continuation("the cat sat", g.continuation)
    if again.ids == g.ids:  # the continuation re-tokenizes to the same tokens
        np.testing.assert_allclose(again.log_probs, g.log_probs, atol=1e-5)


def test_sampling_is_seeded_and_leaves_global_state_alone(tiny_llama):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = tiny_llama.generate("the cat", max_new_tokens=8, do_sample=True, seed=1, stop_at_eos=False)
    b = tiny_llama.generate("the cat", max_new_tokens=8, do_sample=True, seed=1, stop_at_eos=False)
    c = tiny_llama.generate("the cat", max_new_tokens=8, do_sample=True, seed=2, stop_at_eos=False)
    assert a.ids == b.ids and a.ids != c.ids
    assert torch.equal(state, torch.get_rng_state())


def test_a_model_directory_loads_as_a_causal_lm(tiny_llama, tmp_path):
    tiny_llama.module.save_pretrained(tmp_path)
    tiny_llama.tokenizer.save_pretrained(tmp_path)
    loaded = lumos.load_model(tmp_path)
    assert isinstance(loaded, CausalLMAdapter) and loaded.task == "causal_lm"
    ids = torch.tensor([loaded.encode_prompt("the cat")])
    with torch.no_grad():
        assert torch.equal(loaded.run({"input_ids": ids}), tiny_llama.run({"input_ids": ids}))


@pytest.mark.parametrize("prompt, match", [("", "'prompt' is empty"), ("   ", "'prompt' is empty"),
                                           ("the cat " * 200, "'prompt' is .* tokens")])
def test_bad_prompts(tiny_llama, prompt, match):
    with pytest.raises(lumos.InvalidArgumentError, match=match):
        tiny_llama.generate(prompt)


@pytest.mark.parametrize("n", [0, -3, 10**9])
def test_bad_max_new_tokens(tiny_llama, n):
    with pytest.raises(lumos.InvalidArgumentError, match="'max_new_tokens'"):
        tiny_llama.generate("the cat", max_new_tokens=n)


def test_wrong_kind_of_model_is_named(tiny_llama, tweets_model):
    with pytest.raises(lumos.UnsupportedModelError, match="needs a causal language model; 'tweets-sentiment'"):
        tweets_model.require("lumos generate", task="causal_lm")
    with pytest.raises(lumos.UnsupportedModelError, match="needs a classifier"):
        tiny_llama.require("lumos diagnose", task="classifier")


def test_device_and_dtype_follow_the_model(tiny_llama):
    lm = CausalLMAdapter(tiny_llama.module, tiny_llama.tokenizer, dtype="float64")
    assert lm.dtype == torch.float64 and lm.encode([lm.generate("the cat", max_new_tokens=2)]).x.dtype == torch.float64
    tiny_llama.module.float()
    with pytest.raises(lumos.InvalidArgumentError, match="'dtype'"):
        CausalLMAdapter(tiny_llama.module, tiny_llama.tokenizer, dtype="int3")
