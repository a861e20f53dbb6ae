"""Robustness and form of explanations: max-sensitivity under small input changes, complexity, sparseness."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..errors import InvalidTypeError, check_float, check_int
from ._common import aligned_values, as_explanations, example_rng

__all__ = ["max_sensitivity", "complexity", "sparseness"]

_WORD = re.compile(r"\S+")


def complexity(explanations: Any) -> np.ndarray:
    """Complexity of each explanation: the entropy of its normalized absolute attributions.

    Definition: ``p_i = |a_i| / sum_j |a_j|``, complexity ``= -sum_i p_i log p_i`` (nats), in
    ``[0, log n]``. **Lower is better** (fewer features carry the explanation). NaN for an all-zero
    explanation. Computed on the explanation's own features.

    References
    ----------
    Bhatt, Weller, Moura. Evaluating and aggregating feature-based model explanations. IJCAI 2020.
    """
    out = []
    for e in as_explanations(explanations, "complexity"):
        a = np.abs(e.values)
        total = a.sum()
        if total == 0 or not np.isfinite(total):
            out.append(np.nan)
            continue
        p = a[a > 0] / total
        out.append(float(-(p * np.log(p)).sum()))
    return np.asarray(out)


def sparseness(explanations: Any) -> np.ndarray:
    """Sparseness of each explanation: the Gini index of its absolute attributions.

    Definition: with ``|a|`` sorted increasingly (``x_1 <= ... <= x_n``),
    ``G = sum_i (2i - n - 1) x_i / (n sum_i x_i)``, in ``[0, 1 - 1/n]``: 0 when all features share the
    attribution equally, near 1 when one feature carries it all. **Higher is better.** NaN for an all-zero
    explanation.

    References
    ----------
    Chalasani, Chen, Chowdhury, Wu, Jha. Concise explanations of neural networks using adversarial training.
    ICML 2020.
    """
    out = []
    for e in as_explanations(explanations, "sparseness"):
        x = np.sort(np.abs(e.values))
        n, total = len(x), x.sum()
        if total == 0 or not np.isfinite(total):
            out.append(np.nan)
            continue
        i = np.arange(1, n + 1)
        out.append(float(((2 * i - n - 1) * x).sum() / (n * total)))
    return np.asarray(out)


def max_sensitivity(method: Any, explanations: Any, *, n_perturbations: int = 5, drop_fraction: float = 0.1,
                    seed: int = 0, masker: Any = None) -> np.ndarray:
    """Max-sensitivity of a method on texts under small word drops.

    Definition: for each explained text, ``n_perturbations`` perturbed texts each drop
    ``max(1, round(drop_fraction * n_words))`` random words (no synonyms, nothing inserted); the method
    re-explains each for the same target. Sensitivity of one perturbation is
    ``||a_kept - a'|| / ||a_kept||``: the relative L2 change of the values of the words both texts share.
    The score is the maximum over perturbations. **Lower is better** (0: dropping a few words leaves the
    other words' attributions unchanged). The model is called only through the method.

    Parameters
    ----------
    method : an attribution method instance
    explanations : its explanations of texts (each carries ``text``)
    n_perturbations : int, default 5
    drop_fraction : float in (0, 1), default 0.1
    seed : int, default 0
    masker : Masker, optional
        Used to align word pieces to words (default: the method's adapter's).

    Returns
    -------
    ndarray of shape (n_explanations,); NaN for texts of fewer than two words.

    References
    ----------
    Yeh, Hsieh, Suggala, Inouye, Ravikumar. On the (in)fidelity and sensitivity of explanations.
    NeurIPS 2019.
    """
    owner = "max_sensitivity"
    items = as_explanations(explanations, owner)
    n_perturbations = check_int(n_perturbations, "n_perturbations", owner=owner, minimum=1)
    drop_fraction = check_float(drop_fraction, "drop_fraction", owner=owner, minimum=0, maximum=1,
                                exclusive_minimum=True)
    check_int(seed, "seed", owner=owner, minimum=0)
    adapter = method.adapter
    masker = masker if masker is not None else adapter.default_masker()
    jobs, texts, targets = [], [], []
    for k, e in enumerate(items):
        if e.text is None:
            raise InvalidTypeError(f"{owner} perturbs texts: explanation {k} ({e.method}) carries no text.")
        prepared = masker.prepare(e.text)
        words = prepared.labels
        if len(words) < 2 or len(_WORD.findall(e.text)) != len(words):
            continue  # truncated or too short: no aligned perturbation
        base = aligned_values(e, prepared, owner)
        rng = example_rng(seed, adapter, e.text, stream=3)
        n_drop = min(max(1, round(drop_fraction * len(words))), len(words) - 1)
        for _ in range(n_perturbations):
            keep = np.sort(rng.choice(len(words), size=len(words) - n_drop, replace=False))
            jobs.append((k, base, keep))
            texts.append(" ".join(words[i] for i in keep))
            targets.append(e.target)
    out = np.full(len(items), np.nan)
    if not texts:
        return out
    again = list(method.attribute(texts, target=targets))
    for (k, base, keep), e2, text in zip(jobs, again, texts):
        prepared = masker.prepare(text)
        if prepared.n_features != len(keep):
            continue
        values = aligned_values(e2, prepared, owner)
        ref = base[keep]
        norm = np.linalg.norm(ref)
        if norm == 0:
            continue
        s = float(np.linalg.norm(ref - values) / norm)
        out[k] = s if np.isnan(out[k]) else max(out[k], s)
    return out


