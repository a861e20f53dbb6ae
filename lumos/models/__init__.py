"""Model adapters and the registry that finds one for any model.

>>> import lumos
>>> adapter = lumos.as_adapter("tweets-sentiment")         # a zoo model    # doctest: +SKIP
>>> adapter = lumos.as_adapter(my_module)                  # a torch module  # doctest: +SKIP
>>> adapter = lumos.as_adapter(predict_fn, class_names=["no", "yes"])        # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError, InvalidTypeError, ModelLoadError
from .base import (MODALITIES, TASKS, Encoded, FeatureInfo, GradientAdapter, ModelAdapter, ModelSource, clone_adapter,
                   find_factory, model_sources, register_adapter, register_source)
from .causal_lm import CausalLMAdapter, Generation
from .function import CallableAdapter
from .sklearn import SklearnAdapter, SklearnRegressorAdapter, TabularTorchAdapter
from .torch import TorchAdapter
from .transformers import TransformersAdapter, load_pretrained
from .vision import ImageAdapter

__all__ = [
    "ModelAdapter", "GradientAdapter", "Encoded", "FeatureInfo", "TransformersAdapter", "TorchAdapter",
    "CallableAdapter", "ImageAdapter", "SklearnAdapter", "SklearnRegressorAdapter", "TabularTorchAdapter", "as_adapter", "load_model", "register_adapter",
    "clone_adapter", "ModelSource", "register_source", "model_sources", "MODALITIES", "TASKS", "CausalLMAdapter",
    "Generation",
]


@register_adapter(ModelAdapter)
def _identity(adapter: ModelAdapter, **kwargs: Any) -> ModelAdapter:
    if kwargs:
        raise InvalidTypeError(f"Options {sorted(kwargs)} cannot be applied to a model that is already an adapter.")
    return adapter


@register_adapter(str)
def _by_name(name: str, **kwargs: Any) -> ModelAdapter:
    return load_model(name, **kwargs)


register_adapter(Path)(_by_name)


def load_model(name_or_path: str | Path, **kwargs: Any) -> ModelAdapter:
    """Load a model by name or path: a zoo model, a compressed model directory (each registered as a
    :class:`~lumos.models.base.ModelSource` by the package that owns it), or a directory holding a Hugging
    Face sequence classifier."""
    if not str(name_or_path).strip():  # Path("") is the current directory: never load that by accident
        raise InvalidArgumentError(f"The 'model' argument is empty: give a zoo name (`lumos zoo list`) or a model "
                                   f"directory. Got {str(name_or_path)!r}.")
    for source in model_sources():
        if source.accepts(name_or_path):
            return source.load(name_or_path, **kwargs)
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return load_pretrained(path, **kwargs)
    names = [s.description() for s in model_sources() if not s.directory]
    directories = ["a Hugging Face model", *(s.description() for s in model_sources() if s.directory)]
    raise ModelLoadError(
        f"The 'model' argument {str(name_or_path)!r} is neither {' nor '.join(names) or 'a model name'} nor a "
        f"directory holding {' or '.join(directories)}."
    )


def as_adapter(model: Any, **kwargs: Any) -> ModelAdapter:
    """Wrap ``model`` in the adapter registered for its type.

    Accepted: an adapter (returned as is), a zoo name or a model directory (str or Path), a
    ``torch.nn.Module`` (with ``tokenizer=`` for text classifiers), or any callable returning class scores
    (with ``class_names=``).
    """
    factory = find_factory(model)
    if factory is not None:
        return factory(model, **kwargs)
    if callable(model):
        return CallableAdapter(model, **kwargs)
    raise InvalidTypeError(
        f"The 'model' argument must be a zoo name, a model directory, a torch.nn.Module, a callable or a "
        f"ModelAdapter. Got {type(model).__name__}."
    )
