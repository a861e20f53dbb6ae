"""evaluate's shared pass (every method's curves through one remembering executor) gives the numbers of the
one-method-at-a-time path, with fewer model evaluations."""

from __future__ import annotations

import pytest

import numpy as np

from lumos.engine import Batcher
from lumos.metrics import evaluate
from lumos.metrics.faithfulness import faithfulness, faithfulness_correlation


@pytest.mark.slow
def test_shared_pass_equals_per_method_metrics(tweets_model, held_out_tweets):
    """Each method's faithfulness and correlation from evaluate equal those measured method by method with a
    fresh executor each (the path before sharing), to float tolerance; the shared pass runs fewer rows."""
    texts = held_out_tweets[:3]
    result = evaluate(tweets_model, texts, methods=["gradient_x_input", "occlusion"], n_sanity=0, n_sensitivity=0,
                      max_steps=6, n_subsets=5)
    names = ["gradient_x_input", "occlusion"]
    from lumos.attribution.registry import make_methods

    methods, _ = make_methods(tweets_model, names)
    separate_rows = 0
    shared = Batcher(tweets_model, memo=True)
    for name in names:
        explained = methods[name].attribute(texts)
        own = Batcher(tweets_model)
        faith = faithfulness(tweets_model, explained, max_steps=6, executor=own)
        corr = faithfulness_correlation(tweets_model, explained, n_subsets=5, executor=own)
        separate_rows += own.n_evals
        faithfulness(tweets_model, explained, max_steps=6, executor=shared)
        faithfulness_correlation(tweets_model, explained, n_subsets=5, executor=shared)
        got = result.by_name(name).per_example
        np.testing.assert_allclose(got["gap"], [r.gap for r in faith], rtol=0, atol=1e-6)
        np.testing.assert_allclose(got["deletion_auc"], [r.deletion_auc for r in faith], rtol=0, atol=1e-6)
        np.testing.assert_allclose(got["sufficiency"], [r.aopc_sufficiency for r in faith], rtol=0, atol=1e-6)
        np.testing.assert_allclose(got["faithfulness_correlation"], corr, rtol=0, atol=1e-6)
    # The random subsets of the correlation, and each text's full and empty input, are shared between methods.
    assert shared.n_evals < separate_rows and shared.n_reused > 0
