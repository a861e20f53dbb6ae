"""Faithfulness of generation explanations: the continuation's log-probability when the prompt's top-attributed
words are removed, and the evaluate ranking for causal language models."""

from __future__ import annotations

import numpy as np
import pytest

import lumos
from lumos.maskers.generation import PromptMasker


def test_faithfulness_reads_the_continuation(tiny_llama):
    """full and empty are the continuation's log-probability with the whole prompt / none of its words, and a
    ranking equal to the occlusion values deletes the most harmful word first."""
    g = tiny_llama.generate("the cat sat on the mat", max_new_tokens=4, stop_at_eos=False)
    occ = lumos.Occlusion(tiny_llama).attribute(g)
    (result,) = lumos.metrics.faithfulness(tiny_llama, occ, inputs=[g], output="log_probability")
    assert result.full == pytest.approx(sum(g.log_probs), abs=1e-5)
    masker = PromptMasker(tiny_llama.tokenizer)
    p = masker.prepare(g)
    rows = masker.apply(p, np.zeros((1, p.n_features), dtype=bool))
    empty = tiny_llama.predict(rows, readout=masker.readout(p, rows, "log_probability")).sum()
    assert result.empty == pytest.approx(empty, abs=1e-5)  # float32, batched with other lengths
    # Deleting the word whose occlusion value is largest first drops the continuation by that value.
    values = occ.values.sum(0)
    first = result.deletion[np.searchsorted(result.fractions, 1 / p.n_features)]
    assert result.full - first == pytest.approx(values.max(), abs=1e-6)


def test_token_explanations_pool_to_words(tiny_llama):
    """Gradient explanations over tokens are summed over rows and pooled to the prompt's words."""
    g = tiny_llama.generate("the cat sat on the mat", max_new_tokens=3, stop_at_eos=False)
    e = lumos.GradientXInput(tiny_llama).attribute(g)
    p = PromptMasker(tiny_llama.tokenizer).prepare(g)
    pooled = PromptMasker(tiny_llama.tokenizer).feature_values(e, p)
    assert pooled.shape == (p.n_features,)
    assert pooled.sum() == pytest.approx(e.values[:, : g.n_prompt].sum(), rel=1e-9)


def test_evaluate_ranks_methods_for_a_causal_lm(tiny_llama):
    """evaluate explains prompts' continuations with the generation preset and ranks the methods."""
    result = lumos.metrics.evaluate(tiny_llama, ["the cat sat on the mat", "Alice gave Bob a book"],
                                    methods=["occlusion", "gradient_x_input"], max_steps=4, n_subsets=4)
    assert {m.method for m in result.methods} == {"occlusion", "gradient_x_input", "random"}
    assert result.settings["output"] == "log_probability"
    assert all(np.isfinite(m.summary("gap")[0]) for m in result.methods)
    assert len(result.ranking) == 2
