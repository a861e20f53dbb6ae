"""Permutation importance: how much a score drops when one column's values are shuffled across rows.

For feature ``j``, ``importance_j = score(X, y) - score(X with column j permuted, y)``, repeated
``n_repeats`` times with independent permutations; larger means the model relies on the feature more.
A feature the model ignores scores exactly 0 in every repeat. The confidence interval is the Student-t
interval of the mean over repeats (it reflects the permutations' randomness, not sampling of the data).

References
----------
Breiman. Random forests. Machine Learning 45, 2001. Fisher, Rudin, Dominici. All models are wrong, but many
are useful. JMLR 20, 2019.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..diagnosis.diagnose import predict_all
from ..diagnosis.performance import check_probs_labels
from ..engine import track
from ..errors import InvalidArgumentError, check_choice, check_float, check_int
from ..models import as_adapter
from ..models.sklearn import table_rows

__all__ = ["PermutationImportance", "permutation_importance"]


@dataclass(frozen=True)
class PermutationImportance:
    """Per feature: mean drop of ``metric``, its standard deviation over repeats and confidence interval.

    ``drops`` has shape (n_features, n_repeats); ``baseline`` is the unpermuted score.
    """

    features: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray
    drops: np.ndarray
    baseline: float
    metric: str
    confidence: float

    def ranked(self) -> list[tuple[str, float, float, float]]:
        """``(feature, mean, low, high)`` by decreasing mean."""
        order = np.argsort(-self.mean, kind="stable")
        return [(self.features[i], float(self.mean[i]), float(self.low[i]), float(self.high[i])) for i in order]


def _score(probs: np.ndarray, labels: np.ndarray, metric: str) -> float:
    if metric == "accuracy":
        return float((probs.argmax(1) == labels).mean())
    return float(np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))))  # neg. log loss


def permutation_importance(model: Any, inputs: Any, labels: Any, *, n_repeats: int = 5, metric: str = "accuracy",
                           confidence: float = 0.95, seed: int = 0, batch_size: int = 4096,
                           progress: bool | None = None) -> PermutationImportance:
    """Permutation importance of each column of a table.

    Parameters
    ----------
    model : anything :func:`lumos.as_adapter` accepts (a tabular adapter)
    inputs : rows (n, n_features) or a DataFrame
    labels : int array (n,)
    n_repeats : int, default 5
    metric : {"accuracy", "log_likelihood"}, default "accuracy"
        The score whose drop is measured (mean log-probability of the true class for "log_likelihood").
    confidence : float, default 0.95
    seed : int, default 0
    """
    from scipy.stats import t as student_t

    adapter = as_adapter(model)
    owner = "permutation_importance"
    n_repeats = check_int(n_repeats, "n_repeats", owner=owner, minimum=2)
    metric = check_choice(metric, "metric", ("accuracy", "log_likelihood"), owner=owner)
    confidence = check_float(confidence, "confidence", owner=owner, minimum=0, maximum=1, exclusive_minimum=True)
    seed = check_int(seed, "seed", owner=owner, minimum=0)
    names = adapter.feature_names
    rows, _ = table_rows(inputs, names, owner)
    if names is None:
        names = tuple(f"x{i}" for i in range(rows.shape[1]))
    labels = np.asarray(labels)
    if labels.shape != (len(rows),):
        raise InvalidArgumentError(f"The 'labels' parameter of {owner} must hold one class index per row "
                                   f"({len(rows)}). Got shape {labels.shape}.")
    def predict(x: np.ndarray) -> np.ndarray:
        examples, _ = adapter.split_inputs(x)  # the adapter's own row type (float32 for torch)
        return predict_all(adapter, examples, batch_size=batch_size, progress=False)

    probs, labels = check_probs_labels(predict(rows), labels, owner)
    baseline = _score(probs, labels, metric)
    rng = np.random.default_rng(seed)
    n_features = rows.shape[1]
    drops = np.zeros((n_features, n_repeats))
    for j in track(range(n_features), description="Permutation importance", enabled=progress):
        # All repeats of one feature go through the model as one stack of rows.
        stacked = np.repeat(rows[None], n_repeats, axis=0)
        for r in range(n_repeats):
            stacked[r, :, j] = rows[rng.permutation(len(rows)), j]
        out = predict(stacked.reshape(-1, n_features)).reshape(n_repeats, len(rows), -1)
        drops[j] = [baseline - _score(out[r], labels, metric) for r in range(n_repeats)]
    mean, std = drops.mean(1), drops.std(1, ddof=1)
    half = student_t.ppf(0.5 + confidence / 2, n_repeats - 1) * std / np.sqrt(n_repeats)
    return PermutationImportance(features=tuple(names), mean=mean, std=std, low=mean - half, high=mean + half,
                                 drops=drops, baseline=baseline, metric=metric, confidence=confidence)
