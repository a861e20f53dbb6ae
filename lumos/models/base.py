"""The adapter protocol: the one way lumos reaches a model.

An adapter declares what the model is and can do (:attr:`~ModelAdapter.modality`, :attr:`~ModelAdapter.task`,
:attr:`~ModelAdapter.differentiable`, its classes, its torch :attr:`~ModelAdapter.module` and named
:meth:`~ModelAdapter.sites`, its :attr:`~ModelAdapter.tokenizer`), splits an input into features, runs the
model on prepared inputs (:meth:`~ModelAdapter.model_inputs` and :meth:`~ModelAdapter.run`, public for every
analysis that needs the model's tensors) and predicts batches, applying a :class:`~lumos.readout.Readout`
where the outputs are produced. Where the model is differentiable it exposes the point at which gradients
are taken (the embedding output for text, the input tensor for plain modules). Analyses never touch a model
except through its adapter, and never guess what it can do: they read these declarations.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np
import torch

from ..engine.batching import batches_by_size
from ..errors import InvalidArgumentError, UnsupportedModelError, check_choice
from ..identity import input_id, weights_id
from ..readout import Readout, softmax

__all__ = ["ModelAdapter", "GradientAdapter", "Encoded", "FeatureInfo", "clone_adapter", "MODALITIES", "TASKS"]

#: What one example of a model is.
MODALITIES = ("text", "image", "table", "tensor", "any")
#: What a model does with an example: assign classes, predict one or several real values (a regressor), or
#: continue a sequence token by token.
TASKS = ("classifier", "regressor", "causal_lm")


@dataclass(frozen=True)
class FeatureInfo:
    """How one example splits into features.

    ``positions`` index the feature axis of :attr:`Encoded.x` (axis 1); ``labels`` name each feature;
    ``words`` / ``word_index`` group features into display words (text only).
    """

    labels: tuple[str, ...]
    positions: tuple[int, ...]
    text: str | None = None
    words: tuple[str, ...] | None = None
    word_index: tuple[int, ...] | None = None


@dataclass
class Encoded:
    """A batch prepared for the gradient path.

    Attributes
    ----------
    x : Tensor of shape (B, T, ...)
        The point where gradients are taken: word embeddings (B, T, D) for text, the input for tensors.
    extras : dict of str to Tensor
        Everything else the forward pass needs, each with the batch axis first and, where it has a second
        axis, that axis aligned with ``x``'s axis 1 (e.g. ``attention_mask`` of shape (B, T)).
    feature_mask : bool Tensor of shape (B, T)
        True at feature positions (real tokens, not padding or special tokens).
    features : list of FeatureInfo, length B
    lengths : Tensor of shape (B,) or None
        For padded sequences, the positions of axis 1 that matter (padding only follows them); rows of
        short examples are run with the padding cut off. None: every position matters.
    """

    x: torch.Tensor
    extras: dict[str, torch.Tensor]
    feature_mask: torch.Tensor
    features: list[FeatureInfo] = field(default_factory=list)
    lengths: torch.Tensor | None = None

    def take(self, x: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``x`` (rows, T, ...) and the extras for rows that repeat examples (``rows`` are example indices),
        with padding beyond the longest of those examples cut off."""
        extras = {k: v[rows] for k, v in self.extras.items()}
        if self.lengths is not None:
            keep = int(self.lengths[rows].max())
            if keep < x.shape[1]:
                x = x[:, :keep]
                extras = {k: v[:, :keep] if v.dim() > 1 else v for k, v in extras.items()}
        return x, extras


class ModelAdapter(abc.ABC):
    """Base of every adapter.

    Subclasses declare ``modality``, ``class_names`` and ``output_kind`` (``"logits"`` or ``"probabilities"``:
    what :meth:`predict` returns), and implement :meth:`split_inputs` and :meth:`outputs` (the raw outputs
    of one batch of rows); models run through torch implement :meth:`model_inputs` and :meth:`run` instead of
    :meth:`outputs`. :meth:`predict` batches by size and applies a readout, for every adapter alike.
    """

    #: What one example is: "text", "image", "table", "tensor" or "any" (a black box's own examples).
    modality: ClassVar[str] = "any"
    #: What the model does with it: "classifier", "regressor" (real-valued outputs, ``output_kind``
    #: "values", named by ``class_names`` / :attr:`output_names`) or "causal_lm" (a generative language model,
    #: :class:`~lumos.models.causal_lm.CausalLMAdapter`). See ``TASKS``.
    task: str = "classifier"
    #: Whether gradients with respect to the features can be taken (then the adapter is a GradientAdapter).
    differentiable: ClassVar[bool] = False
    #: The tokenizer of a text model (None for other models).
    tokenizer: Any = None
    #: Names of the input's columns, for models on tables and tensors whose features are named.
    feature_names: tuple[str, ...] | None = None
    #: How a text classifier pools its tokens ("cls" or "mean"), where it says.
    pooling: str | None = None
    #: Rows per forward pass in :meth:`predict`, unless a call says otherwise.
    batch_size: int = 64
    output_kind: str = "logits"
    class_names: tuple[str, ...] = ()
    #: What one input is, for error messages: "a str", "a 1-D array", ...
    input_description: ClassVar[str] = "an input"
    name: str = "model"
    #: Facts for the report's model card (description, training data, held-out accuracy, ...).
    card: Mapping[str, Any] = MappingProxyType({})
    #: What :mod:`lumos.compression` did to the model, oldest step first (each a dict with a ``method``);
    #: empty for an original model.
    compression: tuple[dict[str, Any], ...] = ()

    @abc.abstractmethod
    def split_inputs(self, inputs: Any) -> tuple[list[Any], bool]:
        """Validate ``inputs`` and return ``(examples, single)``: a list of examples and whether one
        example (rather than a batch) was given. Raises a :class:`~lumos.errors.LumosError` on bad input."""

    # -- what the model is ----------------------------------------------------------------------------
    @property
    def module(self) -> Any:
        """The ``torch.nn.Module`` behind the adapter, or None (a scikit-learn model, a black box)."""
        return None

    @property
    def model_id(self) -> str | None:
        """Identity of the model's weights (:func:`lumos.identity.weights_id`), or None for a model without a
        torch module. Computed once per adapter (one pass over the weights); an adapter whose weights are
        changed in place afterwards calls :meth:`forget_model_id`. Copies made with :func:`clone_adapter`
        compute their own."""
        if self.module is None:
            return None
        cached = self.__dict__.get("_model_id")
        if cached is None:
            cached = self.__dict__["_model_id"] = weights_id(self.module)
        return cached

    def forget_model_id(self) -> None:
        """Drop the cached :attr:`model_id` (after changing the weights in place)."""
        self.__dict__.pop("_model_id", None)

    def input_id(self, example: Any) -> str:
        """Identity of one example's content (:func:`lumos.identity.input_id` of its :meth:`fingerprint`)."""
        return input_id(self.fingerprint(example))

    def sites(self) -> dict[str, Any]:
        """The model's named activation sites (:func:`lumos.models.sites.sites`), in forward order; empty
        for models without a torch module or without transformer blocks."""
        from .sites import sites

        return sites(self.module) if self.module is not None else {}

    @property
    def n_layers(self) -> int:
        """Number of transformer blocks (0 for models without them)."""
        from .sites import n_layers

        return n_layers(self.module) if self.module is not None else 0

    def require(self, owner: str, *, modality: str | None = None, module: bool = False, layers: bool = False,
                tokenizer: bool = False, task: str | None = None) -> "ModelAdapter":
        """This adapter, when it has what ``owner`` needs (a ``modality``, a torch ``module``, transformer
        ``layers``, a ``tokenizer``, a ``task``); otherwise an :class:`~lumos.errors.UnsupportedModelError`
        that says what is missing."""
        if modality is not None:
            check_choice(modality, "modality", MODALITIES, owner="ModelAdapter.require")
        if task is not None:
            check_choice(task, "task", TASKS, owner="ModelAdapter.require")
            if self.task != task:
                wanted = {"classifier": "a classifier", "regressor": "a regressor",
                          "causal_lm": "a causal language model"}
                hint = {"causal_lm": " Explain its generations with `lumos generate` or the methods' Generation inputs.",
                        "regressor": " Explain its predicted values with the attribution methods (`lumos explain "
                                     "--row`, the Python API)."}.get(self.task, "")
                if task == "causal_lm":
                    hint = " Use a causal language model (e.g. 'smollm2-135m')."
                raise UnsupportedModelError(f"{owner} needs {wanted[task]}; {self.name!r} is "
                                            f"{wanted.get(self.task, self.task)}.{hint}")
        what = f"the {type(self).__name__} for {self.name!r}"
        if (module or layers) and self.module is None:
            raise UnsupportedModelError(f"{owner} needs a PyTorch model; {what} holds none.")
        if layers and self.n_layers == 0:
            raise UnsupportedModelError(f"{owner} needs a transformer with attention layers; {what} has none.")
        if modality is not None and self.modality != modality:
            article = "an" if modality[0] in "aeiou" else "a"
            raise UnsupportedModelError(f"{owner} needs {article} {modality} model; {what} is a model on "
                                        f"{self.modality} inputs.")
        if tokenizer and self.tokenizer is None:
            raise UnsupportedModelError(f"{owner} needs a text model with a tokenizer; {what} has none.")
        return self

    # -- running the model -----------------------------------------------------------------------------
    def model_inputs(self, rows: Sequence[Any]) -> dict[str, torch.Tensor]:
        """The tensors the model takes for a batch of rows (examples or masked rows), on its device: e.g.
        ``input_ids`` and ``attention_mask`` (B, T) for text. Only models run through torch have them."""
        raise UnsupportedModelError(f"The {type(self).__name__} for {self.name!r} does not run a torch model, so "
                                    "it has no model inputs; use predict.")

    def run(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The model's raw outputs (B, n_outputs) for :meth:`model_inputs`, as a tensor; autograd follows the
        caller's context (wrap in ``torch.no_grad()`` or ``torch.inference_mode()`` when no gradient is taken)."""
        raise UnsupportedModelError(f"The {type(self).__name__} for {self.name!r} does not run a torch model; "
                                    "use predict.")

    def outputs(self, rows: Sequence[Any]) -> torch.Tensor | np.ndarray:
        """Raw outputs (len(rows), n_outputs) of one batch of rows, of the kind named by ``output_kind``; a
        sequence model's are (len(rows), T, n_outputs)."""
        return self.run(self.model_inputs(rows))

    def outputs_at(self, rows: Sequence[Any], positions: Any) -> torch.Tensor | np.ndarray:
        """A sequence model's raw outputs at ``positions`` of each row: one per row (rows,) -> (rows, 1,
        n_outputs), or K per row (rows, K) -> (rows, K, n_outputs); negative positions count from each row's
        end. By default taken from :meth:`outputs`; a sequence model computes only these."""
        raw = self.outputs(rows)
        if isinstance(raw, np.ndarray):
            raw = torch.from_numpy(raw)
        positions = torch.as_tensor(np.asarray(positions), dtype=torch.long, device=raw.device)
        positions = positions.expand(len(rows)) if positions.dim() == 0 else positions
        positions = (positions[:, None] if positions.dim() == 1 else positions) % raw.shape[1]
        return raw.gather(1, positions[..., None].expand(-1, -1, raw.shape[-1]))

    def predict(self, examples: Sequence[Any], *, batch_size: int | None = None,
                readout: Readout | None = None) -> np.ndarray:
        """Raw model outputs of shape (n, n_classes), of the kind named by ``output_kind``; with a
        ``readout``, only the explained value of each row (n,), applied batch by batch where the outputs are
        produced (on the model's device), so that a model with many outputs keeps O(n) numbers."""
        batch_size = batch_size or self.batch_size
        out: np.ndarray | None = None
        with torch.inference_mode():
            for idx in batches_by_size(examples, batch_size, self.size):
                rows = [examples[i] for i in idx]
                part = None if readout is None else readout.take(idx)
                if part is not None and part.position is not None:  # sequence outputs: only where they are read
                    raw = self.outputs_at(rows, part.position)
                    part = part.without_position()
                    raw = raw if part.several else raw[:, 0]
                else:
                    raw = self.outputs(rows)
                if part is not None:  # in float64, as the explained values have always been kept
                    raw = part.apply(raw, self.output_kind, dtype=torch.float64)
                elif isinstance(raw, torch.Tensor) and raw.dtype != torch.float64:
                    raw = raw.float()  # a float64 model's outputs keep their precision
                part = raw.cpu().numpy() if isinstance(raw, torch.Tensor) else np.asarray(raw)
                if out is None:
                    out = np.empty((len(examples), *part.shape[1:]), dtype=part.dtype)
                out[idx] = part
        if out is None:
            return np.zeros((0,) if readout is not None else (0, self.n_classes))
        return out

    def default_masker(self) -> Any:
        """The masker perturbation methods use when none is given."""
        raise InvalidArgumentError(
            f"The {type(self).__name__} for {self.name!r} has no default masker: pass masker=..., e.g. "
            "lumos.maskers.TabularMasker(background_rows)."
        )

    def fingerprint(self, example: Any) -> bytes:
        """Bytes that identify one example's content; seeds per-example randomness, so that an example
        gets the same random draws wherever it stands in a batch."""
        return repr(example).encode()

    def size(self, example: Any) -> int:
        """A cheap size of one example, used to batch examples of similar size together."""
        return 0

    def predict_proba(self, examples: Sequence[Any], *, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities of shape (n, n_classes); a regressor has none (an UnsupportedModelError)."""
        if self.task == "regressor":
            raise UnsupportedModelError(f"{self.name!r} is a regressor: its outputs are real values, not class "
                                        "probabilities. Use predict (or output='value').")
        out = self.predict(examples, batch_size=batch_size)
        return out if self.output_kind == "probabilities" else softmax(out)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def output_names(self) -> tuple[str, ...]:
        """Names of the model's outputs: a classifier's classes, a regressor's predicted quantities."""
        return tuple(self.class_names)

    @property
    def n_outputs(self) -> int:
        """Number of outputs (classes of a classifier, real values of a regressor)."""
        return len(self.class_names)

    def resolve_target(self, target: int | str, *, owner: str | None = None) -> int:
        """A class index from an index or a class name, with an error listing what is accepted."""
        where = f" of {owner}" if owner else ""
        kind = "an output index" if self.task == "regressor" else "a class index"
        if isinstance(target, str):
            if target in self.class_names:
                return self.class_names.index(target)
            if target.lstrip("-").isdigit():
                return self.resolve_target(int(target), owner=owner)
            raise InvalidArgumentError(
                f"The 'target' parameter{where} must be {kind} in [0, {self.n_classes - 1}] or one of "
                f"{', '.join(map(repr, self.class_names))}. Got {target!r}."
            )
        if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            if 0 <= int(target) < self.n_classes:
                return int(target)
        raise InvalidArgumentError(
            f"The 'target' parameter{where} must be {kind} in [0, {self.n_classes - 1}] or one of "
            f"{', '.join(map(repr, self.class_names))}. Got {target!r}."
        )

    def require_gradients(self, owner: str) -> "GradientAdapter":
        raise UnsupportedModelError(
            f"{owner} needs gradients, but the {type(self).__name__} for {self.name!r} is not differentiable. "
            "Use a PyTorch or transformers model, or a perturbation method."
        )


class GradientAdapter(ModelAdapter):
    """An adapter whose model can be differentiated with respect to its features.

    The gradient path: :meth:`encode` prepares a batch, :meth:`forward` maps ``x`` (and extras) to logits
    differentiably, :meth:`baseline` gives the reference input of a named kind, and :meth:`reduce` sums an
    attribution tensor over every axis beyond the feature axis. No hook is ever registered on the model.
    """

    #: Baseline kinds this adapter accepts, default first.
    baseline_kinds: ClassVar[tuple[str, ...]] = ("zero",)
    differentiable: ClassVar[bool] = True
    device: torch.device = torch.device("cpu")

    def require_gradients(self, owner: str) -> "GradientAdapter":
        return self

    @abc.abstractmethod
    def encode(self, examples: Sequence[Any]) -> Encoded:
        """Prepare examples for the gradient path, on the model's device."""

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, extras: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits of shape (B, n_classes) from ``x`` of shape (B, T, ...)."""

    @abc.abstractmethod
    def baseline(self, encoded: Encoded, kind: str) -> torch.Tensor:
        """A reference input shaped like ``encoded.x``; non-feature positions equal ``encoded.x``."""

    def reduce(self, attribution: torch.Tensor) -> torch.Tensor:
        """Sum an attribution of shape (B, T, ...) to one value per position, shape (B, T)."""
        return attribution.reshape(attribution.shape[0], attribution.shape[1], -1).sum(-1)


def clone_adapter(adapter: ModelAdapter, *, owner: str) -> ModelAdapter:
    """A copy of ``adapter`` with its own deep copy of the torch module, sharing everything else (tokenizer,
    names, background data): what an analysis that changes a model (randomizes, prunes, quantizes) works on,
    so that the original is never modified."""
    import copy

    from torch import nn

    if not isinstance(adapter.module, nn.Module):
        raise UnsupportedModelError(f"{owner} needs a PyTorch model to change; the {type(adapter).__name__} for "
                                    f"{adapter.name!r} holds none.")
    memo = {id(v): v for v in vars(adapter).values() if not isinstance(v, (nn.Module, torch.Tensor))}
    clone = copy.deepcopy(adapter, memo)
    clone.forget_model_id()  # the copy is about to be changed
    return clone


# -- registry ---------------------------------------------------------------------------------------------
_FACTORIES: dict[type | str, Callable[..., ModelAdapter]] = {}


def register_adapter(model_type: type | str) -> Callable[[Callable[..., ModelAdapter]], Callable[..., ModelAdapter]]:
    """Register a factory that wraps models of ``model_type`` (and its subclasses) in an adapter.

    ``model_type`` may be named by its dotted path (``"sklearn.base.BaseEstimator"``), so that registering does not
    import its library: a model of that type can only exist once the library is imported."""

    def decorator(factory: Callable[..., ModelAdapter]) -> Callable[..., ModelAdapter]:
        _FACTORIES[model_type] = factory
        return factory

    return decorator


@dataclass(frozen=True)
class ModelSource:
    """Where :func:`lumos.load_model` finds models by name or path, besides Hugging Face directories: the
    zoo, compressed models. Each layer that owns such models registers its source (lower layers never
    import it): ``accepts(name_or_path)`` says whether it is one of its own, ``load`` loads it, and
    ``description`` names what it accepts in the error for a name nobody accepts; ``directory`` says
    whether its models are directories (listed beside Hugging Face directories there) or names."""

    name: str
    accepts: Callable[[Any], bool]
    load: Callable[..., ModelAdapter]
    description: Callable[[], str]
    directory: bool = False


_SOURCES: dict[str, ModelSource] = {}


def register_source(source: ModelSource) -> ModelSource:
    """Register a :class:`ModelSource` (again under the same name: replaced). Sources are asked in the order
    they were first registered."""
    _SOURCES[source.name] = source
    return source


def model_sources() -> tuple[ModelSource, ...]:
    return tuple(_SOURCES.values())


def find_factory(model: Any) -> Callable[..., ModelAdapter] | None:
    """The factory registered for the most specific class of ``model``, following its MRO."""
    for cls in type(model).__mro__:
        for key in (cls, f"{cls.__module__}.{cls.__qualname__}"):
            if key in _FACTORIES:
                return _FACTORIES[key]
    return None
