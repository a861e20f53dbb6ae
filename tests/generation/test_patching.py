"""Causal tracing: restoring a whole layer's residual stream restores the clean probability exactly, no patch
gives the corrupted probability, batched patches equal patches run one at a time, noise follows the seed, no
hook survives, and bad input is refused with the argument named."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import lumos
from lumos.generation import CausalTrace, causal_trace
from lumos.models.sites import capture

PROMPT = "The capital of France is Paris and the cat"
OTHER = "The capital of the is Paris and the cat"  # same token count, position 3 differs


def _prob(lm, ids_or_embeds, target, edit=None):
    """The target's probability at the last position, optionally with capture edits."""
    inputs = {"input_ids": ids_or_embeds} if ids_or_embeds.dtype == torch.long else {"inputs_embeds": ids_or_embeds}
    with capture(lm, [], edit=edit or {}), torch.inference_mode():
        logits = lm.run(inputs)[0, -1]
    return float(torch.softmax(logits.double(), -1)[target])


def test_corrupt_prompt_fixture_has_the_same_length(tiny_lm):
    """The two prompts of these tests differ in one token (else the tests below test nothing)."""
    a, b = tiny_lm.encode_prompt(PROMPT), tiny_lm.encode_prompt(OTHER)
    assert len(a) == len(b) and sum(x != y for x, y in zip(a, b)) >= 1


@pytest.mark.parametrize("site", ["residual", "attention", "mlp"])
def test_restoring_every_position_of_a_layer_restores_the_clean_probability(tiny_lm, site):
    """With the residual stream of any layer restored at every position the run is the clean run from that layer
    on: p_clean up to 1e-6 (noise and corrupt prompt); attention and MLP outputs are restorable sites too, and
    restoring them at every position of the last layer is not the corrupted run any more."""
    for kwargs in ({"corrupt": "France", "n_samples": 3}, {"corrupt_prompt": OTHER}):
        trace = causal_trace(tiny_lm, PROMPT, site=site, **kwargs)
        assert trace.probs.shape == (tiny_lm.n_layers, len(trace.ids)) and trace.layer_probs.shape == (tiny_lm.n_layers,)
        assert trace.p_corrupt != pytest.approx(trace.p_clean, abs=1e-9)
        if site == "residual":
            np.testing.assert_allclose(trace.layer_probs, trace.p_clean, rtol=0, atol=1e-6)
            # The last layer's state at the last position is all the head reads.
            assert trace.probs[-1, -1] == pytest.approx(trace.p_clean, abs=1e-6)
            np.testing.assert_allclose(trace.recovery[-1, -1], 1.0, atol=1e-3)
        else:
            assert np.all(np.abs(trace.layer_probs - trace.p_corrupt) > 0)


def test_no_patch_gives_the_corrupted_probability(tiny_lm):
    """The corrupted probability is the corrupt prompt's own output; cells before the first corrupted position
    equal it, and patching such a cell by hand changes nothing."""
    trace = causal_trace(tiny_lm, PROMPT, corrupt_prompt=OTHER)
    other = torch.tensor([tiny_lm.encode_prompt(OTHER)])
    assert trace.p_corrupt == pytest.approx(_prob(tiny_lm, other, trace.target_id), abs=1e-6)
    first = trace.corrupted_positions[0]
    assert first > 0
    np.testing.assert_array_equal(trace.probs[:, :first], trace.p_corrupt)
    with capture(tiny_lm, "layers.0.output") as cap, torch.inference_mode():
        tiny_lm.run({"input_ids": torch.tensor([trace.ids])})
        clean0 = cap["layers.0.output"]

    def restore_first(value):
        value = value.clone()
        value[:, 0] = clean0[:, 0]
        return value

    by_hand = _prob(tiny_lm, other, trace.target_id, {"layers.0.output": restore_first})
    assert by_hand == pytest.approx(trace.p_corrupt, abs=1e-6)


def test_batched_cells_equal_one_cell_at_a_time(tiny_lm):
    """Every heatmap cell equals the same patch applied by hand to a corrupted run of one row."""
    trace = causal_trace(tiny_lm, PROMPT, corrupt_prompt=OTHER, batch_size=7)
    other = torch.tensor([tiny_lm.encode_prompt(OTHER)])
    names = [f"layers.{i}.output" for i in range(tiny_lm.n_layers)]
    with capture(tiny_lm, names) as cap, torch.inference_mode():
        tiny_lm.run({"input_ids": torch.tensor([trace.ids])})
        clean = {name: cap[name] for name in names}
    for i, layer in enumerate(trace.layers):
        for j in range(trace.corrupted_positions[0], len(trace.ids)):
            def patch(value, j=j, state=clean[names[layer]]):
                value = value.clone()
                value[:, j] = state[:, j]
                return value

            alone = _prob(tiny_lm, other, trace.target_id, {names[layer]: patch})
            assert trace.probs[i, j] == pytest.approx(alone, abs=1e-6)


def test_batch_size_and_selection_do_not_change_values(tiny_llama):
    """One row per pass, or all rows in one pass, and a chosen subset of layers and positions give the same
    numbers as the full trace."""
    kwargs = dict(corrupt=["France", "Paris"], n_samples=2, seed=3)
    full = causal_trace(tiny_llama, PROMPT, batch_size=64, **kwargs)
    ones = causal_trace(tiny_llama, PROMPT, batch_size=1, **kwargs)
    np.testing.assert_allclose(ones.probs, full.probs, rtol=0, atol=1e-6)
    assert ones.n_passes == ones.n_rows + 1 and full.n_passes == 2
    some = causal_trace(tiny_llama, PROMPT, layers=[-1], positions=[-1, 4], **kwargs)
    assert some.layers == (tiny_llama.n_layers - 1,) and some.positions == (4, len(full.ids) - 1)
    np.testing.assert_allclose(some.probs, full.probs[[-1]][:, [4, -1]], rtol=0, atol=1e-6)


def test_noise_follows_the_seed(tiny_llama):
    """The same seed reproduces the trace exactly; another seed draws other noise."""
    a = causal_trace(tiny_llama, PROMPT, corrupt="France", n_samples=2, seed=5)
    b = causal_trace(tiny_llama, PROMPT, corrupt="France", n_samples=2, seed=5)
    c = causal_trace(tiny_llama, PROMPT, corrupt="France", n_samples=2, seed=6)
    np.testing.assert_array_equal(a.probs, b.probs)
    assert a.p_corrupt == b.p_corrupt and a.p_corrupt != c.p_corrupt


def test_corrupted_words_are_the_words_tokens(tiny_lm):
    """'corrupt' noises every token of every whole-word occurrence of the words, and nothing else."""
    trace = causal_trace(tiny_lm, PROMPT, corrupt=["the", "Paris"], n_samples=1, layers=[0])
    expected = tuple(i for i, t in enumerate(trace.tokens) if t.strip() in ("the", "Paris"))
    assert trace.corrupted_positions == expected and trace.corrupt_words == ("the", "Paris")


def test_target_text_and_window(tiny_llama):
    """A target given as text is traced; a window restores neighbouring layers together."""
    trace = causal_trace(tiny_llama, PROMPT, corrupt="France", target=" Paris", n_samples=1, site="mlp", window=2)
    assert trace.target_token == " Paris" and trace.target_id == tiny_llama.token_id(" Paris")
    assert trace.window == 2 and np.isfinite(trace.probs).all()


def test_json_round_trip(tiny_llama):
    """to_dict is JSON-ready (NaN recovery as null), and from_dict gives back the same trace."""
    trace = causal_trace(tiny_llama, PROMPT, corrupt="France", n_samples=2)
    data = json.loads(json.dumps(trace.to_dict(), allow_nan=False))
    back = CausalTrace.from_dict(data)
    np.testing.assert_array_equal(back.probs, trace.probs)
    np.testing.assert_array_equal(back.layer_probs, trace.layer_probs)
    assert (back.p_clean, back.p_corrupt, back.tokens, back.corrupted_positions) == \
        (trace.p_clean, trace.p_corrupt, trace.tokens, trace.corrupted_positions)
    assert len(data["recovery"]) == len(trace.layers)
    top = trace.strongest(3)
    assert [c["prob"] for c in top] == sorted((c["prob"] for c in top), reverse=True)
    assert top[0]["prob"] == trace.probs.max()


@pytest.mark.parametrize("kwargs, argument", [
    ({"corrupt": "London"}, "'corrupt'"),
    ({"corrupt": []}, "'corrupt'"),
    ({"corrupt_prompt": "The capital of Spain and Portugal is Paris and the cat"}, "'corrupt_prompt'"),
    ({"corrupt_prompt": PROMPT}, "'corrupt_prompt'"),
    ({}, "'corrupt'"),
    ({"corrupt": "France", "corrupt_prompt": OTHER}, "'corrupt_prompt'"),
    ({"corrupt": "France", "site": "heads"}, "'site'"),
    ({"corrupt": "France", "target": "Paris and the"}, "'target'"),
    ({"corrupt": "France", "layers": [7]}, "'layers'"),
    ({"corrupt": "France", "positions": [-99]}, "'positions'"),
    ({"corrupt": "France", "n_samples": 0}, "'n_samples'"),
    ({"corrupt": "France", "noise": -1.0}, "'noise'"),
])
def test_bad_input_names_the_argument(tiny_llama, kwargs, argument):
    """Each invalid argument raises a LumosError that names it."""
    with pytest.raises(lumos.LumosError, match=argument):
        causal_trace(tiny_llama, PROMPT, **kwargs)


def test_a_classifier_is_refused():
    """A model that is not a causal LM gives a clear error."""
    classifier = lumos.as_adapter(lambda texts: np.ones((len(texts), 2)) / 2, class_names=["a", "b"])
    with pytest.raises(lumos.UnsupportedModelError, match="causal language model"):
        causal_trace(classifier, PROMPT, corrupt="France")


def test_no_hook_survives(tiny_llama, hook_counts, monkeypatch):
    """Tracing leaves no hook on the model, whether it returned or the model raised during a patched pass."""
    before = hook_counts(tiny_llama.module)
    causal_trace(tiny_llama, PROMPT, corrupt="France", n_samples=1)
    assert hook_counts(tiny_llama.module) == before
    run = tiny_llama.run
    calls = []

    def fails_on_second_pass(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("model failed")
        return run(*args, **kwargs)

    monkeypatch.setattr(tiny_llama, "run", fails_on_second_pass)
    with pytest.raises(RuntimeError, match="model failed"):
        causal_trace(tiny_llama, PROMPT, corrupt="France", n_samples=1)
    assert hook_counts(tiny_llama.module) == before
