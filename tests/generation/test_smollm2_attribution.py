"""The real zoo model (SmolLM2-135M): the explanations of a known fact point at it, and the matrix's properties
hold at full scale (causal rows, efficiency per row)."""

from __future__ import annotations

import numpy as np
import pytest

import lumos

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lm():
    return lumos.load_model("smollm2-135m")


@pytest.fixture(scope="module")
def paris(lm):
    g = lm.generate("The capital of France is", max_new_tokens=2)
    assert g.continuation.startswith(" Paris")
    return g


def test_removing_france_hurts_paris_most(lm, paris):
    """Occlusion of the prompt's words: after the last word ("is", without which the next token is no longer
    a predicate), 'capital' and 'France' carry ' Paris' most, and KernelSHAP's rows are efficient."""
    occ = lumos.Occlusion(lm).attribute(paris, target=0)
    assert occ.features == ("The", "capital", "of", "France", "is")
    ranked = [occ.features[i] for i in np.argsort(-occ.values[0])]
    assert set(ranked[1:3]) == {"capital", "France"}
    ks = lumos.KernelSHAP(lm, n_evals=32).attribute(paris)
    np.testing.assert_allclose(ks.values.sum(1), ks.output_value - ks.base_value, atol=1e-9)


def test_gradient_rows_are_causal_on_the_real_model(lm, paris):
    e = lumos.GradientXInput(lm).attribute(paris)
    assert e.values.shape == (2, len(paris.ids))
    # Row 1 (the token after ' Paris') draws on ' Paris' itself; row 0 cannot.
    n = paris.n_prompt
    assert e.values[0, n] == 0 and e.values[1, n] != 0
    np.testing.assert_allclose(e.output_value, paris.log_probs, atol=1e-4)
