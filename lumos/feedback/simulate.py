"""Simulated annotators: feedback from known ground-truth regions, as the explanatory-interactive-learning
benchmarks make it (Ross et al. 2017; Teso and Kersting 2019), for tests and benchmarks."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError, check_float, check_int
from .retrain import Annotated

__all__ = ["simulate_annotator"]


def simulate_annotator(examples: Sequence[Any], labels: Sequence[int], regions: Sequence[Sequence[int]], *,
                       fraction: float, seed: int = 0) -> Annotated:
    """An annotator who knows which features are spurious and marks them irrelevant on a random ``fraction`` of
    the examples.

    Parameters
    ----------
    examples, labels : sequences of length n
    regions : sequence of length n of sequences of int
        Per example, the indices of its spurious features (a decoy patch's pixels, a planted token, a leaky
        column); an empty one is never marked.
    fraction : float in [0, 1]
        Share of the examples annotated, drawn without replacement from the examples that have a region.
    seed : int, default 0

    Returns
    -------
    Annotated
        Every example with its label; the chosen ones with their region marked irrelevant.

    Examples
    --------
    >>> a = simulate_annotator(["a", "b", "c", "d"], [0, 1, 0, 1], [[0]] * 4, fraction=0.5)
    >>> a.n_annotated
    2
    """
    fraction = check_float(fraction, "fraction", owner="simulate_annotator", minimum=0.0, maximum=1.0)
    check_int(seed, "seed", owner="simulate_annotator", minimum=0)
    if not (len(examples) == len(labels) == len(regions)):
        raise InvalidArgumentError(f"The 'examples', 'labels' and 'regions' of simulate_annotator must have one entry "
                                   f"per example. Got {len(examples)}, {len(labels)} and {len(regions)}.")
    candidates = np.flatnonzero([len(r) > 0 for r in regions])
    n = int(round(fraction * len(candidates)))
    chosen = set(np.random.default_rng(seed).choice(candidates, size=n, replace=False).tolist()) if n else set()
    irrelevant = tuple(tuple(int(i) for i in regions[k]) if k in chosen else () for k in range(len(examples)))
    return Annotated(list(examples), np.asarray(labels, dtype=np.int64), irrelevant)
