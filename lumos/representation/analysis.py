"""What each layer encodes: linear probes, 2-D projections (PCA, LDA, a small autoencoder) and neuron
statistics, computed from activations at named sites (see :func:`~lumos.representation.collect`).

Fit these on held-out data (the validation or test split): on the training split, the head was fitted to the
last layer, and a probe there measures memorization as much as representation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..engine import track
from ..errors import InvalidArgumentError, check_choice, check_int
from ..training import fit
from .capture import Activations

__all__ = ["ProbeResult", "probe", "Projection", "project", "NeuronStats", "neuron_stats"]


def _labels(y: Any, n: int, owner: str, name: str = "labels") -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise InvalidArgumentError(f"The '{name}' parameter of {owner} must hold one value per example ({n}). "
                                   f"Got shape {y.shape}.")
    return y


def _sites(activations: Activations | Mapping[str, np.ndarray], owner: str) -> dict[str, np.ndarray]:
    values = dict(activations.values) if isinstance(activations, Activations) else dict(activations)
    if not values:
        raise InvalidArgumentError(f"The 'activations' parameter of {owner} holds no site.")
    for name, v in values.items():
        if np.ndim(v) != 2:
            raise InvalidArgumentError(f"The 'activations' parameter of {owner} must hold (examples, features) "
                                       f"arrays (reduced activations); site {name!r} has shape {np.shape(v)}.")
    return values


# -- probes -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeResult:
    """Cross-validated accuracy of a linear probe at each site.

    Attributes
    ----------
    sites : tuple of str
    accuracy, std : ndarray (n_sites,)
        Mean and standard deviation over folds of the held-out-fold accuracy.
    folds : ndarray (n_sites, cv)
    chance : float
        Accuracy of always predicting the most frequent class (the floor a probe must beat).
    target : str
        What was probed (e.g. "label").
    n_examples : int
    """

    sites: tuple[str, ...]
    accuracy: np.ndarray
    std: np.ndarray
    folds: np.ndarray
    chance: float
    target: str = "label"
    n_examples: int = 0

    def best(self) -> tuple[str, float]:
        i = int(np.argmax(self.accuracy))
        return self.sites[i], float(self.accuracy[i])

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "chance": self.chance, "n_examples": self.n_examples,
                "sites": [{"site": s, "accuracy": float(a), "std": float(d)}
                          for s, a, d in zip(self.sites, self.accuracy, self.std)]}


def probe(activations: Activations | Mapping[str, np.ndarray], y: Sequence[Any], *, cv: int = 5,
          regularization: float = 0.1, seed: int = 0, target: str = "label",
          progress: bool | None = None) -> ProbeResult:
    """Layer-wise linear probes: logistic regression from each site's activations to ``y``, with
    stratified ``cv``-fold cross-validation (features standardized inside each fold).

    Parameters
    ----------
    activations : Activations or mapping of site name to (n, D) arrays
    y : sequence (n,)
        The label, or any column of the data (categorical).
    cv : int, default 5
    regularization : float, default 0.1
        Inverse L2 strength ``C`` of scikit-learn's LogisticRegression.
    seed : int, default 0
        Fold shuffling.
    target : str, default "label"
        Name of what is probed, for display.

    References
    ----------
    Alain, Bengio. Understanding intermediate layers using linear classifier probes. ICLR workshop 2017.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    values = _sites(activations, "probe")
    n = len(next(iter(values.values())))
    y = _labels(y, n, "probe", "y")
    cv = check_int(cv, "cv", owner="probe", minimum=2)
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2 or counts.min() < cv:
        raise InvalidArgumentError(f"The 'y' parameter of probe needs at least 2 classes with >= cv ({cv}) examples "
                                   f"each. Got class counts {counts.tolist()}.")
    splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    folds = []
    for name in track(list(values), description="probe", enabled=progress):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=regularization, max_iter=2000))
        folds.append(cross_val_score(model, np.asarray(values[name], dtype=np.float64), y, cv=splitter))
    folds = np.array(folds)
    return ProbeResult(sites=tuple(values), accuracy=folds.mean(1), std=folds.std(1), folds=folds,
                       chance=float(counts.max() / n), target=target, n_examples=n)


# -- projections ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Projection:
    """A 2-D view of one site's activations.

    Attributes
    ----------
    site, method : str
    coords : ndarray (n, 2)
    labels : ndarray (n,) or None
        Colour by label.
    correct : ndarray of bool (n,) or None
        Colour by correctness of the model's prediction.
    quality : dict of str to float
        PCA: ``explained_variance`` of the two components; autoencoder: ``reconstruction_r2`` (share of the
        standardized variance reconstructed); LDA: none.
    """

    site: str
    method: str
    coords: np.ndarray
    labels: np.ndarray | None = None
    correct: np.ndarray | None = None
    quality: dict[str, float] = field(default_factory=dict)


def project(activations: Activations | Mapping[str, np.ndarray], labels: Sequence[Any] | None = None, *,
            method: str = "pca", correct: Sequence[bool] | None = None, seed: int = 0,
            progress: bool | None = None) -> dict[str, Projection]:
    """Project each site's activations to 2-D.

    Parameters
    ----------
    activations : Activations or mapping of site name to (n, D) arrays
        Held-out examples: the projection is fitted on exactly these rows.
    labels : sequence (n,), optional
        Required by ``"lda"`` (it finds the directions that best separate them); used for colour otherwise.
    method : {"pca", "lda", "autoencoder"}, default "pca"
        Principal components; linear discriminant analysis (supervised, at most n_classes - 1 axes, padded
        with zeros); or a small autoencoder (D -> 64 -> 2 -> 64 -> D, tanh, trained full-batch with Adam on
        standardized activations), the non-linear view.
    correct : sequence of bool (n,), optional
        Whether the model classified each example correctly, for colour.
    seed : int, default 0
        Autoencoder initialization (global random state is left untouched).

    Returns
    -------
    dict of site name to Projection
    """
    method = check_choice(method, "method", ("pca", "lda", "autoencoder"), owner="project")
    values = _sites(activations, "project")
    n = len(next(iter(values.values())))
    y = None if labels is None else _labels(labels, n, "project")
    ok = None if correct is None else _labels(correct, n, "project", "correct").astype(bool)
    if method == "lda" and y is None:
        raise InvalidArgumentError("The 'labels' parameter of project is required with method='lda'.")
    out = {}
    for name in track(list(values), description=f"project ({method})", enabled=progress):
        x = np.asarray(values[name], dtype=np.float64)
        coords, quality = _PROJECTORS[method](x, y, seed)
        out[name] = Projection(site=name, method=method, coords=coords, labels=y, correct=ok, quality=quality)
    return out


def _pca(x: np.ndarray, y: Any, seed: int) -> tuple[np.ndarray, dict[str, float]]:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=min(2, *x.shape), random_state=seed)
    coords = _two_columns(pca.fit_transform(x))
    return coords, {"explained_variance": float(pca.explained_variance_ratio_.sum())}


def _two_columns(coords: np.ndarray) -> np.ndarray:
    """Pad a projection with fewer than two axes (two classes for LDA, one example for PCA) with zeros."""
    return coords if coords.shape[1] >= 2 else np.column_stack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])


def _lda(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, dict[str, float]]:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    k = min(2, len(np.unique(y)) - 1, x.shape[1])
    if k < 1:
        raise InvalidArgumentError("The 'labels' parameter of project needs at least two classes for LDA.")
    try:  # shrinkage keeps the within-class covariance invertible when D is large against n
        coords = LinearDiscriminantAnalysis(n_components=k, solver="eigen", shrinkage="auto").fit(x, y).transform(x)
    except np.linalg.LinAlgError:  # degenerate classes (e.g. repeated rows): the SVD solver copes
        coords = LinearDiscriminantAnalysis(n_components=k, solver="svd").fit(x, y).transform(x)
    return _two_columns(coords), {}


def _autoencoder(x: np.ndarray, y: Any, seed: int, epochs: int = 200) -> tuple[np.ndarray, dict[str, float]]:
    from torch import nn

    mean, std = x.mean(0), x.std(0) + 1e-8
    z = torch.from_numpy((x - mean) / std).float()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = nn.Sequential(nn.Linear(x.shape[1], 64), nn.Tanh(), nn.Linear(64, 2))
        decoder = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, x.shape[1]))
    autoencoder = nn.Sequential(encoder, decoder)
    fit(autoencoder, lambda batch: ((autoencoder(batch) - batch) ** 2).mean(), [z],
        optimizer=torch.optim.Adam(autoencoder.parameters(), lr=1e-2), epochs=epochs, seed=seed, progress=False)
    with torch.no_grad():
        codes = encoder(z)
        mse = float(((decoder(codes) - z) ** 2).mean())
    return codes.double().numpy(), {"reconstruction_r2": 1.0 - mse}  # z has unit variance per column


_PROJECTORS = {"pca": _pca, "lda": _lda, "autoencoder": _autoencoder}


# -- neurons ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NeuronStats:
    """Statistics of each neuron (feature) of one site over a dataset.

    Attributes
    ----------
    site : str
    mean, std, max : ndarray (D,)
    active : ndarray (D,)
        Fraction of examples where the neuron is > 0.
    label_f : ndarray (D,) or None
        ANOVA F statistic of the neuron across labels (how strongly its mean differs between classes).
    """

    site: str
    mean: np.ndarray
    std: np.ndarray
    max: np.ndarray
    active: np.ndarray
    label_f: np.ndarray | None = None

    @property
    def dead(self) -> int:
        """Neurons never > 0 on the data."""
        return int((self.active == 0).sum())

    def top(self, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` neurons that separate the labels most (by F statistic): (index, F)."""
        if self.label_f is None:
            raise InvalidArgumentError("NeuronStats.top needs labels: pass labels= to neuron_stats.")
        order = np.argsort(-np.nan_to_num(self.label_f, nan=-np.inf))[:k]
        return [(int(i), float(self.label_f[i])) for i in order]


def neuron_stats(activations: Activations | Mapping[str, np.ndarray], labels: Sequence[Any] | None = None
                 ) -> dict[str, NeuronStats]:
    """Mean, spread, maximum and activity of every neuron of each site; with labels, how much each neuron's
    mean differs between classes (ANOVA F)."""
    from sklearn.feature_selection import f_classif

    values = _sites(activations, "neuron_stats")
    n = len(next(iter(values.values())))
    y = None if labels is None else _labels(labels, n, "neuron_stats")
    out = {}
    for name, v in values.items():
        v = np.asarray(v, dtype=np.float64)
        f = None
        if y is not None and len(np.unique(y)) > 1:
            with np.errstate(divide="ignore", invalid="ignore"):
                f = f_classif(v, y)[0]
        out[name] = NeuronStats(site=name, mean=v.mean(0), std=v.std(0), max=v.max(0), active=(v > 0).mean(0),
                                label_f=f)
    return out
