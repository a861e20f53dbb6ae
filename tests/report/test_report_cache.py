"""The report's cache: explanations and held-out predictions computed once for the same model, inputs, settings
and code, read back exactly, never trusted when the stored file no longer matches its checksum."""

from __future__ import annotations

import numpy as np
import pytest

from lumos.attribution import get_method
from lumos.report.common import cached_explanations, cached_probabilities


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMOS_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_explanations_are_computed_once_and_read_back_exactly(tweets_model, held_out_tweets, cache):
    """A second call reads the stored explanations (the same values, ids and cost) without running the model; a
    corrupted file is recomputed."""
    method = get_method("occlusion")(tweets_model)
    texts = list(held_out_tweets[:2])
    first = cached_explanations(method, texts)
    before = method.executor.n_evals
    second = cached_explanations(method, texts)
    assert method.executor.n_evals == before  # read, not recomputed
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.values, b.values)
        assert (a.model_id, a.input_id, a.features, a.cost) == (b.model_id, b.input_id, b.features, b.cost)
    entries = lambda: [p for p in (cache / "explanations").glob("occlusion-*.json") if not p.name.endswith(".json.json")]
    (path,) = entries()
    path.write_text(path.read_text().replace("occlusion", "occlusioN", 1))
    third = cached_explanations(method, texts)
    assert method.executor.n_evals > before
    np.testing.assert_allclose(third[0].values, first[0].values, rtol=0, atol=1e-6)
    other = cached_explanations(get_method("occlusion")(tweets_model, seed=1), texts[:1])  # other settings, own entry
    assert len(entries()) == 2 and len(other) == 1


def test_cached_probabilities_equal_the_models(tweets_model, held_out_tweets, cache):
    """Held-out probabilities from the cache equal the model's own, on the first and on the second call."""
    texts = list(held_out_tweets[:5])
    direct = tweets_model.predict_proba(texts, batch_size=64)
    np.testing.assert_array_equal(cached_probabilities(tweets_model, texts, 64), direct)
    np.testing.assert_array_equal(cached_probabilities(tweets_model, texts, 64), direct)
    assert len(list((cache / "outputs").glob("probabilities-*.safetensors"))) == 1
