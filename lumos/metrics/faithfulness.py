"""Faithfulness: does hiding the features an explanation ranks highest change the model's output most?

Every masked input is built by the masker and every model call goes through the Batcher (via
:class:`~lumos.metrics._common.MaskedGame`), across all explanations of a call at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..engine import Batcher
from ..errors import InvalidArgumentError, check_float, check_int
from ..explanation import Explanation
from ..models import as_adapter
from ._common import MaskedGame, aligned_values, as_explanations, example_rng

__all__ = ["FaithfulnessResult", "faithfulness", "faithfulness_correlation", "DEFAULT_FRACTIONS"]

#: Top-k fractions of ERASER's comprehensiveness and sufficiency (DeYoung et al., 2020).
DEFAULT_FRACTIONS = (0.01, 0.05, 0.1, 0.2, 0.5)


@dataclass(frozen=True)
class FaithfulnessResult:
    """Deletion / insertion curves, comprehensiveness and sufficiency of one explanation.

    Everything derives from two families of masked inputs: ``keep_top[j]`` (only the ``j`` features ranked
    highest shown) and ``keep_bottom[j]`` (only the ``j`` ranked lowest shown), ``j`` in ``counts``. Ranks
    follow the signed values (most positive = most in favour of the target first); ties are broken at
    random (seeded).

    Attributes
    ----------
    method : str
    n_features : int
    fractions : ndarray (m,)
        Fraction of features removed (deletion) or shown (insertion), ``counts / n_features``.
    deletion : ndarray (m,)
        Most-relevant-first (MoRF) deletion curve: the output after hiding the top ``fractions`` of features.
        Area: ``deletion_auc``, **lower is better** (Samek et al., 2017; Petsiuk et al., 2018).
    deletion_lerf : ndarray (m,)
        Least-relevant-first deletion curve; area ``deletion_lerf_auc``, **higher is better**.
    insertion : ndarray (m,)
        Insertion curve: the output when only the top ``fractions`` are shown; area ``insertion_auc``,
        **higher is better** (Petsiuk et al., 2018). With the symmetric grid used here it has the same area
        as ``deletion_lerf`` (both integrate ``keep_top``).
    full, empty : float
        The output with every feature shown / hidden.
    comprehensiveness : dict of float to float
        ``full - output(top-k hidden)`` at each top-k fraction (k = ceil(fraction * n)); **higher is
        better**. ``aopc_comprehensiveness`` is their mean (DeYoung et al., 2020).
    sufficiency : dict of float to float
        ``full - output(only top-k shown)``; **lower is better**; ``aopc_sufficiency`` is their mean.
    """

    method: str
    n_features: int
    fractions: np.ndarray
    deletion: np.ndarray
    deletion_lerf: np.ndarray
    insertion: np.ndarray
    full: float
    empty: float
    comprehensiveness: dict[float, float]
    sufficiency: dict[float, float]

    @property
    def deletion_auc(self) -> float:
        """Area under the MoRF deletion curve (fraction axis in [0, 1]); lower is better."""
        return _auc(self.fractions, self.deletion)

    @property
    def deletion_lerf_auc(self) -> float:
        """Area under the LeRF deletion curve; higher is better."""
        return _auc(self.fractions, self.deletion_lerf)

    @property
    def insertion_auc(self) -> float:
        """Area under the insertion curve; higher is better."""
        return _auc(self.fractions, self.insertion)

    @property
    def gap(self) -> float:
        """``deletion_lerf_auc - deletion_auc``: the symmetric relevance gain of Blücher et al. (2024).

        Higher is better; a random ranking scores 0 in expectation (both curves then integrate the same
        expected output), a reversed ranking scores the negative of the true one. This is lumos's single
        faithfulness number (used to rank methods)."""
        return self.deletion_lerf_auc - self.deletion_auc

    @property
    def aopc_comprehensiveness(self) -> float:
        """Mean comprehensiveness over the fractions (ERASER's AOPC); higher is better."""
        return float(np.mean(list(self.comprehensiveness.values())))

    @property
    def aopc_sufficiency(self) -> float:
        """Mean sufficiency over the fractions (ERASER's AOPC); lower is better."""
        return float(np.mean(list(self.sufficiency.values())))


def _auc(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


def _order(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Feature indices by decreasing value, ties in random order."""
    return np.lexsort((rng.random(len(values)), -values))


def faithfulness(model: Any, explanations: Any, *, inputs: Sequence[Any] | None = None, masker: Any = None, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                 max_steps: int = 20, output: str | None = None, batch_size: int = 64, seed: int = 0,
                 progress: bool | None = None, executor: Batcher | None = None) -> list[FaithfulnessResult]:
    """Deletion and insertion curves, comprehensiveness and sufficiency of explanations.

    For each explanation, features are ranked by their attribution (signed: most in favour of the explained
    class first) and hidden by the masker (text: the mask token) in that order (*deletion*, most relevant
    first, and least relevant first), or shown in that order on a fully hidden input (*insertion*). The
    model's output for the explanation's target is read after each step.

    Definitions (``f`` the target's output, ``x\\S`` the input with the features ``S`` hidden, ``r_k`` the
    top-k features, ``k = ceil(q n)``):

    - deletion AUC = area under ``q -> f(x \\ r_{qn})``, fraction axis in [0, 1]. **Lower is better.**
    - insertion AUC = area under ``q -> f(only r_{qn} shown)``. **Higher is better.**
    - comprehensiveness(q) = ``f(x) - f(x \\ r_k)``; **higher is better**. sufficiency(q) =
      ``f(x) - f(only r_k shown)``; **lower is better**. AOPC = mean over ``fractions``.
    - gap = LeRF deletion AUC - MoRF deletion AUC; **higher is better**, 0 for a random ranking.

    Parameters
    ----------
    model : model, adapter or zoo name
        The model the explanations explain.
    explanations : Explanation, ExplanationSet or list of Explanation
        Each must carry the features of the masker (or word pieces that sum to its words).
    inputs : sequence, optional
        The explained inputs, one per explanation; default: each explanation's ``text``.
    masker : Masker, optional
        Default: the adapter's (words hidden by the mask token).
    fractions : sequence of float in (0, 1], default (0.01, 0.05, 0.1, 0.2, 0.5)
        Top-k fractions for comprehensiveness and sufficiency (ERASER's bins).
    max_steps : int, default 20
        Curve points per explanation beyond the ends: every feature count for inputs of up to ``max_steps``
        features, an even grid of counts above.
    output : {"probability", "logit", "log_probability", "value"}, optional
        The target's output read from the model: by default the probability for a classifier (ERASER uses
        probabilities) and the predicted value for a regressor (its only output). For a causal language model,
        the quantity summed over the continuation's tokens: use "log_probability" (the continuation's
        log-probability); explanations of every generated token are summed over their rows.
    seed : int, default 0
        Seeds the random order among features of equal attribution.
    executor : Batcher, optional
        Runs the masked inputs; default a new :class:`~lumos.engine.Batcher` of ``batch_size`` rows.

    Returns
    -------
    list of FaithfulnessResult, one per explanation.

    References
    ----------
    Samek, Binder, Montavon, Lapuschkin, Müller. Evaluating the visualization of what a deep neural network
    has learned. IEEE TNNLS 2017. Petsiuk, Das, Saenko. RISE: randomized input sampling for explanation of
    black-box models. BMVC 2018. DeYoung, Jain, Rajani, Lehman, Xiong, Socher, Wallace. ERASER: a benchmark
    to evaluate rationalized NLP models. ACL 2020. Blücher, Vielhaben, Strodthoff. Decoupling pixel flipping
    and occlusion strategy for consistent XAI benchmarks. TMLR 2024.
    """
    owner = "faithfulness"
    adapter = as_adapter(model)
    items = as_explanations(explanations, owner)
    masker = masker if masker is not None else adapter.default_masker()
    fractions = tuple(check_float(q, "fractions", owner=owner, minimum=0, maximum=1, exclusive_minimum=True)
                      for q in fractions)
    if not fractions:
        raise InvalidArgumentError("The 'fractions' parameter of faithfulness must hold at least one fraction.")
    max_steps = check_int(max_steps, "max_steps", owner=owner, minimum=1)
    check_int(seed, "seed", owner=owner, minimum=0)
    game = MaskedGame(adapter, masker, output=output, batch_size=batch_size, progress=progress, owner=owner,
                      executor=executor)
    plans = []
    for e, example in zip(items, examples_of(items, inputs, owner)):
        prepared = masker.prepare(example)
        values = aligned_values(e, prepared, owner, masker)
        n = prepared.n_features
        if n == 0:
            raise InvalidArgumentError(f"{owner}: an explanation of {e.text!r} has no features.")
        order = _order(values, example_rng(seed, adapter, prepared.example, stream=1))
        grid = np.unique(np.round(np.linspace(0, n, min(n, max_steps) + 1)).astype(int))
        ks = np.array([int(np.ceil(q * n)) for q in fractions])
        counts = np.unique(np.concatenate([grid, n - grid, ks, n - ks]))  # symmetric: j and n - j
        masks = np.zeros((2 * len(counts), n), dtype=bool)
        for i, j in enumerate(counts):
            masks[i, order[:j]] = True                      # keep_top[j]
            masks[len(counts) + i, order[n - j:]] = True    # keep_bottom[j]
        plans.append((e, n, counts, ks, game.add(prepared, masks, e.target)))
    game.run()
    results = []
    for e, n, counts, ks, handle in plans:
        v = game.values(handle)
        top = dict(zip(counts.tolist(), v[:len(counts)]))
        bottom = dict(zip(counts.tolist(), v[len(counts):]))
        full, empty = float(top[n]), float(top[0])
        grid = counts  # fractions removed / shown
        results.append(FaithfulnessResult(
            method=e.method, n_features=n, fractions=grid / n,
            deletion=np.array([bottom[n - j] for j in grid]),
            deletion_lerf=np.array([top[n - j] for j in grid]),
            insertion=np.array([top[j] for j in grid]),
            full=full, empty=empty,
            comprehensiveness={q: full - float(bottom[n - k]) for q, k in zip(fractions, ks)},
            sufficiency={q: full - float(top[k]) for q, k in zip(fractions, ks)},
        ))
    return results


def examples_of(items: list[Explanation], inputs: Any, owner: str) -> list[Any]:
    """The explained inputs: ``inputs`` when given (one per explanation), else each explanation's text."""
    if inputs is not None:
        inputs = list(inputs)
        if len(inputs) != len(items):
            raise InvalidArgumentError(f"The 'inputs' parameter of {owner} must hold one input per explanation "
                                       f"({len(items)}). Got {len(inputs)}.")
        return inputs
    for e in items:
        if e.text is None or e.targets is not None:
            raise InvalidArgumentError(f"The 'inputs' parameter of {owner} is required: the explanations "
                                       f"({e.method}) do not carry their input (only text classifiers' do; give "
                                       "a generation's explanations their Generations).")
    return [e.text for e in items]


def faithfulness_correlation(model: Any, explanations: Any, *, inputs: Sequence[Any] | None = None,
                             masker: Any = None, subset_fraction: float = 0.25,
                             n_subsets: int = 20, output: str | None = None, batch_size: int = 64, seed: int = 0,
                             progress: bool | None = None, executor: Batcher | None = None) -> np.ndarray:
    """Faithfulness correlation of each explanation (Bhatt et al., 2020).

    Definition: draw ``n_subsets`` random subsets ``S`` of ``ceil(subset_fraction * n)`` features; for each,
    the output drop ``f(x) - f(x \\ S)`` when ``S`` is hidden and the attribution mass ``sum_{i in S} a_i``.
    The score is the Pearson correlation of the two over the subsets. **Higher is better** (1: the
    attributions predict exactly what hiding a set of features does); NaN where either is constant.

    Parameters
    ----------
    model, explanations, inputs, masker, output, batch_size, progress : as in :func:`faithfulness`
    subset_fraction : float in (0, 1], default 0.25
    n_subsets : int, default 20
    seed : int, default 0

    Returns
    -------
    ndarray of shape (n_explanations,)

    References
    ----------
    Bhatt, Weller, Moura. Evaluating and aggregating feature-based model explanations. IJCAI 2020.
    """
    owner = "faithfulness_correlation"
    adapter = as_adapter(model)
    items = as_explanations(explanations, owner)
    masker = masker if masker is not None else adapter.default_masker()
    subset_fraction = check_float(subset_fraction, "subset_fraction", owner=owner, minimum=0, maximum=1,
                                  exclusive_minimum=True)
    n_subsets = check_int(n_subsets, "n_subsets", owner=owner, minimum=2)
    check_int(seed, "seed", owner=owner, minimum=0)
    game = MaskedGame(adapter, masker, output=output, batch_size=batch_size, progress=progress, owner=owner,
                      executor=executor)
    plans = []
    for e, example in zip(items, examples_of(items, inputs, owner)):
        prepared = masker.prepare(example)
        values = aligned_values(e, prepared, owner, masker)
        n = prepared.n_features
        rng = example_rng(seed, adapter, prepared.example, stream=2)
        size = int(np.ceil(subset_fraction * n))
        masks = np.ones((n_subsets + 1, n), dtype=bool)  # row 0: the full input
        for i in range(1, n_subsets + 1):
            masks[i, rng.choice(n, size=size, replace=False)] = False
        plans.append((values, masks, game.add(prepared, masks, e.target)))
    game.run()
    out = np.full(len(items), np.nan)
    for i, (values, masks, handle) in enumerate(plans):
        v = game.values(handle)
        drops = v[0] - v[1:]
        mass = (~masks[1:]).astype(np.float64) @ values
        if np.ptp(drops) > 0 and np.ptp(mass) > 0:
            out[i] = float(np.corrcoef(drops, mass)[0, 1])
    return out
