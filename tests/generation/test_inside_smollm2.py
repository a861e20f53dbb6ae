"""The logit lens and causal tracing on the zoo's smollm2-135m (slow): the lens's last layer is the model's own
distribution, and tracing a fact finds what Meng et al. found in GPT-2 (a subject token in early layers,
the last token in late layers)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lumos
from lumos.generation import causal_trace, logit_lens
from lumos.zoo import llm

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(llm._package_dir() is None, reason=f"needs `{llm.INSTALL}`")]


@pytest.fixture(scope="module")
def smollm():
    return lumos.load_model("smollm2-135m")


def test_lens_last_layer_is_the_models_distribution(smollm):
    """At every position of a real prompt the last layer's readout is the model's softmax (atol 1e-6), and the
    lens predicts the answer before the last layer only from late layers on."""
    lens = logit_lens(smollm, "The capital of France is", k=5)
    with torch.inference_mode():
        probs = torch.softmax(smollm.run({"input_ids": torch.tensor([lens.ids])})[0].double(), -1)
    assert torch.allclose(torch.from_numpy(lens.top_probs[-1]), probs.topk(5, dim=-1).values, atol=1e-6)
    assert lens.target_tokens[-1] == " Paris" and lens.target_rank[-1, -1] == 1
    assert lens.target_rank[0, -1] > 100 and 15 < lens.first_layer() <= smollm.n_layers


def test_trace_finds_the_subject_early_and_the_last_token_late(smollm):
    """Restoring a subject token early, or the last token late, brings back most of p(' Paris');
    restoring the last token early brings back almost nothing."""
    prompt = "The Eiffel Tower is located in the city of"
    trace = causal_trace(smollm, prompt, corrupt="Eiffel Tower", layers=[1, 29], positions=[2, -1], n_samples=3)
    assert trace.tokens[2] == "iffel" and trace.target_token == " Paris"
    assert trace.p_clean > 0.3 and trace.p_corrupt < 0.1 * trace.p_clean
    recovery = trace.recovery  # rows: layers 1, 29; columns: 'iffel', the last token
    assert recovery[0, 0] > 0.5 and recovery[1, 1] == pytest.approx(1.0, abs=1e-4)
    assert abs(recovery[0, 1]) < 0.1 and abs(recovery[1, 0]) < 0.1
    np.testing.assert_allclose(trace.layer_probs, trace.p_clean, atol=1e-6)
