"""Complexity, sparseness, agreement, plausibility and max-sensitivity: closed-form values and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lumos
from lumos import Explanation
from lumos.metrics import (ModelIndependent, RandomAttribution, complexity, max_sensitivity, plausibility,
                           rank_agreement, rationale_mask, sparseness, topk_overlap)


def expl(values, method="m", words=None):
    n = len(values)
    words = words or tuple(f"w{i}" for i in range(n))
    return Explanation(values=values, features=words, target=0, prediction=[0.6, 0.4], class_names=("a", "b"),
                       method=method, text=" ".join(words), words=words, word_index=tuple(range(n)))


def test_complexity_and_sparseness_closed_forms():
    """Uniform |a| has entropy log n and Gini 0; one-hot has entropy 0 and Gini 1 - 1/n; signs do not matter."""
    uniform, onehot = expl([1.0, -1.0, 1.0, -1.0]), expl([0.0, 0.0, -3.0, 0.0])
    np.testing.assert_allclose(complexity([uniform, onehot]), [math.log(4), 0.0], atol=1e-12)
    np.testing.assert_allclose(sparseness([uniform, onehot]), [0.0, 0.75], atol=1e-12)
    mid = expl([1.0, 2.0, 3.0, 4.0])
    assert 0 < complexity(mid)[0] < math.log(4) and 0 < sparseness(mid)[0] < 0.75
    assert np.isnan(complexity(expl([0.0, 0.0]))[0]) and np.isnan(sparseness(expl([0.0, 0.0]))[0])


def test_agreement_known_answers():
    """Same ranking: rho 1 and full top-k overlap; reversed: rho -1 and no overlap in the top 2 of 4."""
    a = [expl([4.0, 3.0, 2.0, 1.0])]
    np.testing.assert_allclose(rank_agreement(a, [expl([40.0, 30.0, 20.0, 10.0])]), [1.0])
    np.testing.assert_allclose(rank_agreement(a, [expl([1.0, 2.0, 3.0, 4.0])]), [-1.0])
    np.testing.assert_allclose(topk_overlap(a, [expl([1.0, 2.0, 3.0, 4.0])], k=2), [0.0])
    np.testing.assert_allclose(topk_overlap(a, [expl([4.0, 0.0, 3.0, 1.0])], k=2), [0.5])
    with pytest.raises(lumos.InvalidArgumentError, match="same input"):
        rank_agreement(a, [expl([1.0, 2.0, 3.0])])


def test_plausibility_known_answers():
    """Scores that put the rationale words first give AUPRC 1 and F1 1; reversed scores give the minimum."""
    words = ("the", "flight", "was", "awful", "today")
    rationale = ["awful", "flight"]
    good = expl([0.1, 2.0, 0.0, 3.0, -0.5], words=words)
    bad = expl([3.0, -2.0, 2.0, -3.0, 1.0], words=words)
    r = plausibility([good, bad], [rationale, [0, 1, 0, 1, 0]])
    np.testing.assert_allclose(r.auprc[0], 1.0)
    np.testing.assert_allclose(r.f1, [1.0, 0.0])
    assert r.auprc[1] == pytest.approx((1 / 4 + 2 / 5) / 2)  # positives ranked 4th and 5th
    np.testing.assert_array_equal(rationale_mask(words, "Awful!"), [False, False, False, True, False])
    with pytest.raises(lumos.InvalidArgumentError, match="'rationales' parameter of plausibility"):
        plausibility([good], [rationale, rationale])


def test_max_sensitivity(tweets_model, held_out_tweets):
    """Word length does not change when other words are dropped (sensitivity 0); random values, re-drawn for
    the new text, change completely; Occlusion on the zoo model lies strictly between 0 and that."""
    texts = held_out_tweets[2:4]
    length = ModelIndependent(tweets_model, lambda labels, x: [float(len(w)) for w in labels])
    np.testing.assert_allclose(max_sensitivity(length, length.attribute(texts)), 0.0, atol=1e-12)
    rand = RandomAttribution(tweets_model)
    r = max_sensitivity(rand, rand.attribute(texts), n_perturbations=3)
    assert np.all(r > 0.8)
    occ = lumos.Occlusion(tweets_model)
    o = max_sensitivity(occ, occ.attribute(texts), n_perturbations=3)
    assert np.all((o > 0) & (o < r.max() * 2))
    with pytest.raises(lumos.InvalidArgumentError, match="'drop_fraction' parameter of max_sensitivity"):
        max_sensitivity(occ, occ.attribute(texts[:1]), drop_fraction=1.5)
