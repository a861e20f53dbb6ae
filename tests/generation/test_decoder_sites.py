"""Named sites of decoders (Llama-style and GPT-2-style): the residual stream entering block 0, each block's
attention and MLP sublayer outputs and its output, read and edited through capture()."""

from __future__ import annotations

import torch

from lumos.models.sites import capture, resolve_sites

PROMPT = "The capital of France is Paris"


def test_decoder_sites_hold_the_residual_stream(tiny_lm):
    """'embeddings' is Hugging Face's hidden_states[0] (block 0's input) and 'layers.i.output' its
    hidden_states[i + 1] for every block but the last (whose entry Llama normalises)."""
    known = tiny_lm.sites()
    n = tiny_lm.n_layers
    for i in range(n):
        assert {f"layers.{i}.attention.output", f"layers.{i}.mlp.output", f"layers.{i}.output"} <= set(known)
    assert known["embeddings"].input and not known["layers.0.output"].input
    ids = torch.tensor([tiny_lm.encode_prompt(PROMPT)])
    names = ["embeddings", *[f"layers.{i}.output" for i in range(n)]]
    with capture(tiny_lm, names) as cap, torch.inference_mode():
        hidden = tiny_lm.module(input_ids=ids, output_hidden_states=True).hidden_states
    for i, name in enumerate(names[:-1]):
        torch.testing.assert_close(cap[name], hidden[i], rtol=0, atol=0)


def test_sublayer_outputs_add_up_to_the_block_output(tiny_lm):
    """Block input + attention output + MLP output == block output: the attention and MLP sites are the
    sublayers' contributions to the residual stream (both decoders add them without a norm after)."""
    ids = torch.tensor([tiny_lm.encode_prompt(PROMPT)])
    names = ["embeddings", "layers.0.attention.output", "layers.0.mlp.output", "layers.0.output"]
    with capture(tiny_lm, names) as cap, torch.inference_mode():
        tiny_lm.run({"input_ids": ids})
    total = cap["embeddings"] + cap["layers.0.attention.output"] + cap["layers.0.mlp.output"]
    torch.testing.assert_close(total, cap["layers.0.output"], rtol=1e-5, atol=1e-5)


def test_default_sites_and_edits_of_the_input_site(tiny_lm):
    """The default sites are the residual stream only (no sublayer outputs); editing 'embeddings' (a pre-hook
    on block 0) changes the model's output, and only inside the with block."""
    chosen = [s.name for s in resolve_sites(tiny_lm, None)]
    assert chosen == ["embeddings", *[f"layers.{i}.output" for i in range(tiny_lm.n_layers)]]
    ids = torch.tensor([tiny_lm.encode_prompt(PROMPT)])
    with torch.inference_mode():
        plain = tiny_lm.run({"input_ids": ids})
        with capture(tiny_lm, ["embeddings"], edit={"embeddings": torch.zeros_like}) as cap:
            zeroed = tiny_lm.run({"input_ids": ids})
        after = tiny_lm.run({"input_ids": ids})
    assert torch.all(cap["embeddings"] == 0)
    assert not torch.allclose(zeroed, plain) and torch.equal(after, plain)
