"""Attribution of every generated token to every earlier token: the causal mask, batched rows equal to one row
at a time, completeness and efficiency per row, exact Shapley against brute force, seeds, targets and contrasts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import lumos
from lumos.maskers.generation import PromptMasker
from lumos.readout import Readout

GRADIENT = [lambda lm: lumos.Saliency(lm), lambda lm: lumos.GradientXInput(lm),
            lambda lm: lumos.IntegratedGradients(lm, n_steps=8, baseline="pad")]


@pytest.mark.parametrize("make", GRADIENT, ids=["saliency", "gxi", "ig"])
def test_gradient_rows_equal_truncated_sequences(tiny_lm, generation, make):
    """Row k of the matrix equals the explanation of a sequence cut right after generated token k (which has no
    later tokens at all): the causal mask holds, and rows batched together equal one row at a time."""
    method = make(tiny_lm)
    e = method.attribute(generation)
    assert e.values.shape == (generation.n_generated, len(generation.ids))
    for k in range(generation.n_generated):
        end = generation.n_prompt + k + 1
        cut = lumos.models.Generation(prompt=generation.prompt, ids=generation.ids[:end], n_prompt=generation.n_prompt,
                                      tokens=generation.tokens[:end])
        alone = method.attribute(cut, target=k)
        np.testing.assert_allclose(e.values[k, :end], alone.values[0], rtol=1e-5, atol=1e-7)
        assert np.all(e.values[k, generation.n_prompt + k:] == 0)
        assert e.target_positions[k] == generation.n_prompt + k


def test_gradient_is_causal_before_masking(tiny_lm, generation):
    """The gradient of generated token k's readout is exactly zero at its own and every later position (read
    from the model, not from the mask the Explanation applies)."""
    import torch

    from lumos.attribution.base import Score, gradient

    encoded = tiny_lm.encode([generation])
    n = generation.n_prompt
    steps = np.arange(generation.n_generated)
    encoded.extras["positions"] = torch.as_tensor(n - 1 + steps)[None]
    targets = torch.as_tensor(np.asarray(generation.ids)[n + steps])[None]
    score = Score(tiny_lm, encoded, "log_probability")
    grad = gradient(score, encoded.x, torch.zeros(1, dtype=torch.long), targets)  # (K, 1, T, D)
    for k in steps:
        assert grad[k, 0, n + k:].abs().max() == 0
        assert grad[k, 0, : n + k].abs().max() > 0


def test_integrated_gradients_complete_per_row(tiny_lm, generation):
    """IG's values of each row sum to that token's log-probability at the input minus at the baseline (the
    random model's path is far from linear: Gauss-Legendre needs a few hundred points to close the gap)."""
    e = lumos.IntegratedGradients(tiny_lm, n_steps=256, baseline="pad").attribute(generation)
    gap = e.output_value - e.base_value
    assert np.abs(gap).max() > 1e-2
    np.testing.assert_allclose(e.values.sum(1), gap, atol=1e-4 * np.abs(gap).max())
    np.testing.assert_allclose(e.convergence_delta, e.values.sum(1) - gap)
    np.testing.assert_allclose(e.output_value, generation.log_probs, atol=1e-5)


def test_prompt_sources_keep_the_continuation(tiny_lm, generation):
    """sources='prompt' attributes to the prompt's tokens only; completeness still holds per row."""
    e = lumos.IntegratedGradients(tiny_lm, n_steps=256, baseline="pad", sources="prompt").attribute(generation)
    assert e.values.shape == (generation.n_generated, generation.n_prompt)
    assert e.target_positions is None
    np.testing.assert_allclose(e.values.sum(1), e.output_value - e.base_value, atol=1e-4)


def test_continuation_target_is_the_sum_of_rows(tiny_lm, generation):
    """The whole continuation's log-probability is explained as one row; by linearity it is the sum of rows."""
    ig = lumos.IntegratedGradients(tiny_lm, n_steps=8, baseline="pad")
    rows, total = ig.attribute(generation), ig.attribute(generation, target="continuation")
    assert total.values.shape == (1, len(generation.ids))
    np.testing.assert_allclose(total.values[0], rows.values.sum(0), rtol=1e-6, atol=1e-8)
    assert total.output_value[0] == pytest.approx(sum(generation.log_probs), abs=1e-5)
    occ = lumos.Occlusion(tiny_lm)
    np.testing.assert_allclose(occ.attribute(generation, target="continuation").values[0],
                               occ.attribute(generation).values.sum(0), atol=1e-9)


def test_contrast_is_the_difference_of_two_readouts(tiny_llama, bpe_tokenizer):
    """With a foil, every row explains log p(token) - log p(foil); occlusion values are the differences."""
    g = tiny_llama.generate("the cat sat on the mat", max_new_tokens=3, stop_at_eos=False)
    foil = bpe_tokenizer.convert_ids_to_tokens(7)
    foil_text = bpe_tokenizer.decode([7])
    masker = PromptMasker(bpe_tokenizer, granularity="tokens", hide="token")
    plain = lumos.Occlusion(tiny_llama, masker=masker).attribute(g)
    contrast = lumos.Occlusion(tiny_llama, masker=masker, contrast=foil_text).attribute(g)
    # The foil's own explanation: the same occlusion of a continuation of foil tokens at the same positions.
    rows = masker.apply(masker.prepare(g), np.ones((1, len(plain.features)), dtype=bool))
    n = g.n_prompt
    full = tiny_llama.predict(rows, readout=Readout(np.array([[7] * 3]), "log_probability",
                                                    position=np.array([[n - 1, n, n + 1]])))
    np.testing.assert_allclose(contrast.output_value, plain.output_value - full[0], atol=1e-9)
    assert foil is not None


def test_contrast_of_several_tokens_is_refused(tiny_llama):
    with pytest.raises(lumos.InvalidArgumentError, match="'contrast'.*exactly one token"):
        lumos.Occlusion(tiny_llama, contrast="the cat sat on")


def test_kernel_shap_efficient_per_row_and_seeded(tiny_lm, generation):
    """KernelSHAP's values of each row sum to v(all) - v(none); the same seed gives the same values."""
    a = lumos.KernelSHAP(tiny_lm, n_evals=64, seed=3).attribute(generation)
    np.testing.assert_allclose(a.values.sum(1), a.output_value - a.base_value, atol=1e-9)
    b = lumos.KernelSHAP(tiny_lm, n_evals=64, seed=3).attribute(generation)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, lumos.KernelSHAP(tiny_lm, n_evals=64, seed=4).attribute(generation).values)


def test_exact_shapley_equals_brute_force(tiny_llama, bpe_tokenizer):
    """Exact Shapley values of each generated token over a 4-word prompt equal the textbook sum over subsets."""
    g = tiny_llama.generate("Alice gave Bob books", max_new_tokens=3, stop_at_eos=False)
    masker = PromptMasker(bpe_tokenizer)
    e = lumos.ExactShapley(tiny_llama, masker=masker).attribute(g)
    p = masker.prepare(g)
    n = p.n_features
    assert n == 4
    masks = np.array(list(itertools.product([False, True], repeat=n)))
    rows = masker.apply(p, masks)
    steps = np.arange(g.n_generated)
    readout = Readout(np.tile(np.asarray(g.generated_ids), (len(rows), 1)), "log_probability",
                      position=np.array([[r.n_prompt - 1 + s for s in steps] for r in rows]))
    v = {tuple(m): val for m, val in zip(masks, tiny_llama.predict(rows, readout=readout))}
    for i in range(n):
        phi = np.zeros(g.n_generated)
        for m in masks:
            if m[i]:
                continue
            s = int(m.sum())
            with_i = m.copy()
            with_i[i] = True
            phi += math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) * (v[tuple(with_i)] - v[tuple(m)])
        np.testing.assert_allclose(e.values[:, i], phi, atol=1e-9)


def test_perturbation_rows_equal_one_row_at_a_time(tiny_lm, generation):
    """Scoring every generated token in one forward per coalition gives each row's own values."""
    occ = lumos.LIME(tiny_lm, n_evals=32, seed=1)
    full = occ.attribute(generation)
    for k in (0, generation.n_generated - 1):
        np.testing.assert_allclose(occ.attribute(generation, target=k).values[0], full.values[k], atol=1e-9)


def test_deleting_words_moves_the_read_positions(tiny_llama, bpe_tokenizer):
    """With hide='delete', a masked sequence is shorter and each token is read where it now stands."""
    g = tiny_llama.generate("the dog sat on the log", max_new_tokens=2, stop_at_eos=False)
    e = lumos.Occlusion(tiny_llama).attribute(g)  # default masker: words, deleted
    p = PromptMasker(bpe_tokenizer).prepare(g)
    for i in range(p.n_features):
        mask = np.ones((1, p.n_features), dtype=bool)
        mask[0, i] = False
        (row,) = PromptMasker(bpe_tokenizer).apply(p, mask)
        text = bpe_tokenizer.decode(row.ids[: row.n_prompt])
        alone = tiny_llama.continuation(text, "".join(g.tokens[g.n_prompt:])) if text.strip() else None
        if alone is None or alone.ids != tuple(row.ids.tolist()):
            continue  # re-tokenized differently: not comparable token for token
        np.testing.assert_allclose(e.values[:, i], np.asarray(g.log_probs) - np.asarray(alone.log_probs), atol=1e-5)


def test_row_is_the_explanation_of_one_token(tiny_lm, generation):
    """row(k) is an ordinary 1-D explanation cut to the token's sources, with its own output and delta."""
    e = lumos.IntegratedGradients(tiny_lm, n_steps=8, baseline="pad").attribute(generation)
    k = 2
    r = e.row(k)
    assert r.values.shape == (generation.n_prompt + k,)
    assert r.features == generation.tokens[: generation.n_prompt + k]
    assert r.target == k and r.target_label == e.targets[k]
    assert r.output_value == e.output_value[k] and r.convergence_delta == e.convergence_delta[k]
    assert r.top(1)[0][1] == pytest.approx(e.values[k][np.argmax(np.abs(e.values[k]))])
    assert lumos.Explanation.from_json(e.to_json()) == e


@pytest.mark.parametrize("target", ["everything", 99, [], [0.5], True])
def test_bad_targets_name_the_argument(tiny_llama, target):
    g = tiny_llama.generate("the cat sat", max_new_tokens=2)
    with pytest.raises(lumos.InvalidArgumentError, match="'target'"):
        lumos.Saliency(tiny_llama).attribute(g, target=target)


@pytest.mark.parametrize("name", ["raw_attention", "attention_rollout", "attention_x_gradient"])
def test_attention_methods_per_generated_token(tiny_lm, generation, name):
    """Attention methods trace each generated token from the position whose logits predict it: rows are causal,
    and a row equals the method run on the sequence cut after that token."""
    method = lumos.get_method(name)(tiny_lm)
    e = method.attribute(generation)
    n = generation.n_prompt
    assert e.values.shape == (generation.n_generated, len(generation.ids))
    k = 2
    cut = lumos.models.Generation(prompt=generation.prompt, ids=generation.ids[: n + k + 1], n_prompt=n,
                                  tokens=generation.tokens[: n + k + 1])
    np.testing.assert_allclose(method.attribute(cut, target=k).values[0], e.values[k, : n + k + 1], rtol=1e-5,
                               atol=1e-8)
    assert np.abs(e.values[k, : n + k]).sum() > 0


def test_backward_chunks_give_the_same_gradients(tiny_llama, monkeypatch):
    """Readouts differentiated in vectorised chunks (4 + 2) equal one backward pass per readout."""
    import lumos.attribution.base as base

    g = tiny_llama.generate("the cat sat on the mat", max_new_tokens=6, stop_at_eos=False)
    monkeypatch.setattr(base, "READOUTS_PER_BACKWARD", 4)
    chunked = lumos.GradientXInput(tiny_llama).attribute(g).values
    monkeypatch.setattr(base, "READOUTS_PER_BACKWARD", 1)
    single = lumos.GradientXInput(tiny_llama).attribute(g).values
    np.testing.assert_allclose(chunked, single, rtol=1e-5, atol=1e-8)


def test_sentences_are_sources(tiny_llama, bpe_tokenizer):
    """With granularity='sentences' each prompt sentence is one source; efficiency holds per row."""
    g = tiny_llama.generate("the cat sat on the mat. the dog sat on the log. Alice gave Bob a book", max_new_tokens=2,
                            stop_at_eos=False)
    masker = PromptMasker(bpe_tokenizer, granularity="sentences")
    e = lumos.ExactShapley(tiny_llama, masker=masker).attribute(g)
    assert e.features == ("the cat sat on the mat.", "the dog sat on the log.", "Alice gave Bob a book")
    np.testing.assert_allclose(e.values.sum(1), e.output_value - e.base_value, atol=1e-9)
