"""Retraining from feedback: right for the right reasons (a penalty on input gradients at features people marked
irrelevant) and counterexamples (copies of marked examples with those features resampled), through the one
training loop (:func:`lumos.training.fit`).

Both act on the adapter's gradient path (:meth:`~lumos.models.GradientAdapter.encode` /
:meth:`~lumos.models.GradientAdapter.forward`), so they work on every differentiable model alike: word-piece
embeddings of a text model, pixels of an image model, columns of a tabular MLP. A feature index of a record is an
index into its explanation's features, which are the positions the adapter's ``encode`` lists
(:attr:`~lumos.models.FeatureInfo.positions`).

References
----------
Ross, Hughes and Doshi-Velez (2017), *Right for the right reasons: training differentiable models by constraining
their explanations*, IJCAI. Teso and Kersting (2019), *Explanatory interactive machine learning*, AIES (CAIPI).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InvalidArgumentError, InvalidTypeError, ModelLoadError, UnsupportedModelError, check_choice
from ..errors import check_float, check_int
from ..models import GradientAdapter, ModelAdapter, ModelSource, clone_adapter, register_source

__all__ = ["Annotated", "Retrained", "retrain", "rrr_penalty", "measure", "trainable_parameters", "annotated_from_store",
           "load_retrained", "is_retrained", "METHODS", "CONFIG_FILE", "WEIGHTS_FILE"]

_OWNER = "retrain"
METHODS = ("rrr", "counterexamples", "both")
FORMAT = "lumos.retrained/1"
CONFIG_FILE = "lumos-retrained.json"
WEIGHTS_FILE = "model.safetensors"
#: Modalities whose features sit at the same position in every example (a column, a pixel): a counterexample
#: takes a marked feature's value from another example at the same position. Text features do not line up, so a
#: marked word piece is replaced by a random word piece of another example.
_ALIGNED = ("image", "table", "tensor")


@dataclass(frozen=True)
class Annotated:
    """Examples with labels and, for the annotated ones, the features marked irrelevant.

    Attributes
    ----------
    examples : list
        Prepared examples, as the adapter's ``split_inputs`` returns them (texts, (H, W, C) images, rows).
    labels : int array (n,)
        Class indices; -1 where the label is unknown (such an example only enters the penalty).
    irrelevant : tuple of tuple of int, length n
        Per example, the indices of the features marked irrelevant (into the features the adapter's ``encode``
        lists for it); empty where none.
    feedback_ids : tuple of int
        The store records the marks and labels came from (empty for simulated feedback).
    """

    examples: list[Any]
    labels: np.ndarray
    irrelevant: tuple[tuple[int, ...], ...]
    feedback_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        labels = np.array(self.labels, dtype=np.int64).reshape(-1)  # a copy: a read-only split stays read-only
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "irrelevant", tuple(tuple(int(i) for i in marks) for marks in self.irrelevant))
        if not (len(self.examples) == len(labels) == len(self.irrelevant)):
            raise InvalidArgumentError(f"The 'examples', 'labels' and 'irrelevant' of Annotated must have one entry "
                                       f"per example. Got {len(self.examples)}, {len(labels)} and "
                                       f"{len(self.irrelevant)}.")

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def n_annotated(self) -> int:
        """Examples with at least one feature marked irrelevant."""
        return sum(1 for marks in self.irrelevant if marks)

    @classmethod
    def unannotated(cls, examples: Sequence[Any], labels: Sequence[int]) -> "Annotated":
        """Labelled examples without marks (a validation split)."""
        return cls(list(examples), np.asarray(labels), tuple(() for _ in examples))


# -- the parameters that train ---------------------------------------------------------------------------------
def trainable_parameters(module: nn.Module, train: str | int) -> list[nn.Parameter]:
    """The parameters retraining changes.

    Parameters
    ----------
    module : torch.nn.Module
    train : "head", "all" or int >= 1
        ``"all"``: every parameter; ``"head"``: the last layer's; an int N: the last N layers'. A *layer* is a module
        that holds parameters of its own (``Linear``, ``Conv2d``, ``LayerNorm``, ``Embedding``, ...), in the
        order the module defines them; the head is the last of them.
    """
    layers = [m for _, m in module.named_modules() if any(True for _ in m.parameters(recurse=False))]
    if train == "all":
        return [p for p in module.parameters()]
    if train == "head":
        n = 1
    elif isinstance(train, int) and not isinstance(train, bool) and train >= 1:
        n = train
    else:
        raise InvalidArgumentError(f"The 'train' parameter of {_OWNER} must be 'head', 'all' or a number of last "
                                   f"layers >= 1. Got {train!r}.")
    return [p for m in layers[-n:] for p in m.parameters(recurse=False)]


# -- the two ways feedback enters the loss ---------------------------------------------------------------------
def rrr_penalty(adapter: GradientAdapter, x: torch.Tensor, extras: Mapping[str, torch.Tensor],
                marked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ross et al.'s right-reasons term and the logits it was computed from.

    ``sum_r sum_{t marked} || d/dx_rt sum_k log p_k(x_r) ||^2 / B``: the squared input gradient of the summed
    log-probabilities, at the marked feature positions only (summed over an embedding's or a pixel's channels),
    summed per row and averaged over the ``B`` rows of the batch. The gradient is built with ``create_graph``, so
    back-propagating the term trains the parameters through the input gradient (double back-propagation).

    Parameters
    ----------
    adapter : GradientAdapter
    x : Tensor (B, T, ...)
        The gradient path's input (``adapter.encode(...).x``); it is made to require grad.
    extras : mapping
        The forward pass's other inputs (``Encoded.extras``).
    marked : bool Tensor (B, T)
        True at the feature positions marked irrelevant.

    Returns
    -------
    (penalty, logits) : scalar Tensor, Tensor (B, n_classes)
        The penalty is exactly 0 (and costs no second pass) when nothing is marked.
    """
    if not bool(marked.any()):
        logits = adapter.forward(x, dict(extras))
        return logits.sum() * 0.0, logits
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    logits = adapter.forward(x, dict(extras))
    log_p = torch.log_softmax(logits, dim=-1)
    (grad,) = torch.autograd.grad(log_p.sum(), x, create_graph=True)
    squared = adapter.reduce(grad ** 2)  # (B, T)
    return (squared * marked.to(squared.dtype)).sum() / x.shape[0], logits


def _marked(encoded: Any, irrelevant: Sequence[Sequence[int]], shape: tuple[int, int]) -> torch.Tensor:
    """(B, T) bool: True at the positions of each row's features marked irrelevant."""
    marked = torch.zeros(shape, dtype=torch.bool, device=encoded.x.device)
    for r, marks in enumerate(irrelevant):
        positions = encoded.features[r].positions
        for j in marks:
            if j >= len(positions):
                raise InvalidArgumentError(f"A mark of {_OWNER} names feature {j}, but the example "
                                           f"{_describe(encoded.features[r])} has {len(positions)} features now "
                                           "(a different tokenizer or image size?).")
            marked[r, positions[j]] = True
    return marked


def _describe(info: Any) -> str:
    return repr(info.text[:40]) if info.text else f"with features {tuple(info.labels)[:3]}..."


def counterexamples(adapter: ModelAdapter, x: torch.Tensor, extras: Mapping[str, torch.Tensor],
                    feature_mask: torch.Tensor, marked: torch.Tensor, labels: torch.Tensor, n_copies: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor,
                                                          torch.Tensor]:
    """CAIPI counterexamples: ``n_copies`` copies of each labelled row with marks, the marked features resampled,
    the label kept.

    A marked feature's value is drawn from another row of the batch: at the same position for images and tables
    (the feature's own distribution), from a random feature position of that row for text. Returns ``x``,
    ``extras``, ``labels`` and ``marked`` for the batch with the copies appended.
    """
    rows = torch.nonzero(marked.any(1) & (labels >= 0)).flatten().repeat(n_copies)
    if len(rows) == 0 or x.shape[0] < 2:
        return x, dict(extras), labels, marked
    copies = x[rows].clone()  # (C, T, ...)
    where = marked[rows]      # (C, T)
    c, t = where.shape
    # A donor row per copy and marked position, never the row itself.
    donor = torch.randint(0, x.shape[0] - 1, (c, t), generator=generator).to(x.device)
    donor = donor + (donor >= rows[:, None]).long()
    if adapter.modality in _ALIGNED:
        position = torch.arange(t, device=x.device).expand(c, t)
    else:
        # A random feature position of the donor row: rank among its features, drawn uniformly.
        counts = feature_mask.sum(1).clamp_min(1)                  # (B,)
        rank = (torch.rand((c, t), generator=generator).to(x.device) * counts[donor]).long()
        cumulative = feature_mask.long().cumsum(1)                 # (B, T): features up to each position
        position = torch.searchsorted(cumulative[donor].reshape(c * t, -1),
                                      (rank + 1).reshape(c * t, 1)).reshape(c, t).clamp_max(x.shape[1] - 1)
    copies[where] = x[donor[where], position[where]]
    extras = {k: torch.cat([v, v[rows]]) for k, v in extras.items()}
    return (torch.cat([x, copies]), extras, torch.cat([labels, labels[rows]]), torch.cat([marked, where]))


# -- measuring ---------------------------------------------------------------------------------------------------
def measure(adapter: ModelAdapter, data: Annotated, *, batch_size: int = 64) -> dict[str, float]:
    """Accuracy on the labelled examples and the share of attribution on the marked features.

    The share is, per annotated example, ``sum_marked s / sum_all s`` with ``s`` the saliency of each feature
    (absolute input gradient of the predicted class's log-probability, summed over channels), averaged over the
    annotated examples; 0 is a model that ignores the marked features.

    Returns
    -------
    dict
        ``accuracy`` (NaN without labels), ``marked_share`` (NaN without marks), ``n`` and ``n_annotated``.
    """
    labelled = np.flatnonzero(data.labels >= 0)
    accuracy = float("nan")
    if len(labelled):
        predicted = adapter.predict([data.examples[i] for i in labelled], batch_size=batch_size).argmax(1)
        accuracy = float((predicted == data.labels[labelled]).mean())
    annotated = [i for i, marks in enumerate(data.irrelevant) if marks]
    shares: list[float] = []
    if annotated:
        gradient = adapter.require_gradients("measure")
        module = adapter.module
        was_training = module.training if module is not None else False
        if module is not None:
            module.eval()
        try:
            for start in range(0, len(annotated), batch_size):
                idx = annotated[start:start + batch_size]
                encoded = gradient.encode([data.examples[i] for i in idx])
                x = encoded.x.detach().requires_grad_(True)
                with torch.enable_grad():
                    log_p = torch.log_softmax(gradient.forward(x, encoded.extras), dim=-1)
                    chosen = log_p.gather(1, log_p.argmax(1, keepdim=True)).sum()
                    (grad,) = torch.autograd.grad(chosen, x)
                saliency = gradient.reduce(grad.abs()).double() * encoded.feature_mask
                marked = _marked(encoded, [data.irrelevant[i] for i in idx], tuple(saliency.shape))
                total = saliency.sum(1).clamp_min(1e-300)
                shares.extend(((saliency * marked).sum(1) / total).tolist())
        finally:
            if module is not None:
                module.train(was_training)
    return {"accuracy": accuracy, "marked_share": float(np.mean(shares)) if shares else float("nan"),
            "n": len(data), "n_annotated": len(annotated)}


# -- retraining --------------------------------------------------------------------------------------------------
@dataclass
class Retrained:
    """A retrained model and what was measured.

    Attributes
    ----------
    adapter : ModelAdapter
        The new model version (a copy: the parent is never modified).
    parent_model_id : str
    method, lam, train : what was done (``lam`` as used, after the rule when it was ``"auto"``)
    history : list of dict
        Per epoch: the mean loss terms (``loss``, ``cross_entropy``, ``rrr``) and the validation measures.
    before, after : dict
        :func:`measure` on the validation data (``accuracy``) and on the annotated training examples
        (``marked_share``), for the parent and the new model.
    feedback_ids : tuple of int
    seconds : float
    """

    adapter: ModelAdapter
    parent_model_id: str
    method: str
    lam: float
    train: str | int
    history: list[dict[str, float]]
    before: dict[str, float]
    after: dict[str, float]
    feedback_ids: tuple[int, ...] = ()
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    def card(self) -> dict[str, Any]:
        """The facts written beside the weights (and shown as the model's card)."""
        return {"parent_model_id": self.parent_model_id, "model_id": self.adapter.model_id, "method": self.method,
                "lambda": self.lam, "train": self.train, "feedback_ids": list(self.feedback_ids),
                "metrics_before": self.before, "metrics_after": self.after, "history": self.history,
                "seconds": round(self.seconds, 2), **self.settings}

    def save(self, directory: str | Path) -> Path:
        """Write the new model version: ``model.safetensors`` (every tensor of its state) and
        ``lumos-retrained.json`` (the parent to rebuild the architecture from, and :meth:`card`).
        ``lumos.load_model(directory)`` reads it back, as does every command's ``--model``."""
        from safetensors.torch import save_file

        from ..engine.files import atomic_path, write_text_atomic

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.adapter.module.state_dict().items()}
        with atomic_path(directory / WEIGHTS_FILE) as tmp:  # a killed run leaves no half-written weights
            save_file(state, str(tmp), metadata={"format": FORMAT})
        config = {"format": FORMAT, "parent": _parent_source(self.adapter), "name": self.adapter.name,
                  "class_names": list(self.adapter.class_names), **self.card()}
        write_text_atomic(directory / CONFIG_FILE, json.dumps(config, indent=2, default=_json_default))
        return directory


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def retrain(adapter: Any, data: Annotated, *, validation: Annotated | None = None, method: str = "rrr",
            lam: float | str = "auto", train: str | int = "all", epochs: int = 10, batch_size: int = 64,
            lr: float = 1e-3, weight_decay: float = 0.0, n_counterexamples: int = 1, seed: int = 0,
            log_dir: str | Path | None = None, progress: bool | None = None, name: str | None = None) -> Retrained:
    """Retrain a copy of a differentiable model so that it stops using the features people marked irrelevant.

    Parameters
    ----------
    adapter : GradientAdapter (or anything :func:`lumos.as_adapter` accepts)
        The parent model; it is copied (:func:`~lumos.models.clone_adapter`), never changed.
    data : Annotated
        Training examples, labels and marks (:func:`annotated_from_store` builds it from a store).
    validation : Annotated, optional
        Held-out labelled examples: their accuracy is measured each epoch and before/after.
    method : {"rrr", "counterexamples", "both"}, default "rrr"
        ``"rrr"``: cross-entropy plus ``lam`` times :func:`rrr_penalty`; ``"counterexamples"``: cross-entropy on
        the batch plus ``n_counterexamples`` resampled copies of each marked example (:func:`counterexamples`);
        ``"both"``: the two together (the penalty also applies to the copies).
    lam : float >= 0 or "auto", default "auto"
        Weight of the penalty. ``"auto"`` applies the rule of Ross et al. (the two terms of the same order): on
        the parent model, ``lam = 10 * CE / R`` with ``CE`` the mean cross-entropy and ``R`` the mean penalty per
        batch row over the training data, so the penalty starts ten times the cross-entropy and keeps weight once
        it has shrunk.
    train : "head", "all" or int, default "all"
        Which parameters change (:func:`trainable_parameters`).
    epochs, batch_size, lr, weight_decay : training settings (Adam, shuffled batches from ``seed``)
    n_counterexamples : int >= 1, default 1
        Copies per marked example per epoch (counterexamples and both).
    seed : int, default 0
        Shuffling, resampling and the training loop's random state.
    log_dir : str or Path, optional
        TensorBoard logs of the run (:func:`lumos.training.fit`): ``train/loss``, ``train/cross_entropy``,
        ``train/rrr`` per step; ``val/accuracy`` and ``train/marked_share`` per epoch.
    progress : bool, optional
    name : str, optional
        The new model's name (default: the parent's name + ``"-retrained"``).

    Returns
    -------
    Retrained
    """
    from ..models import as_adapter
    from ..training import fit

    parent = as_adapter(adapter)
    parent.require_gradients(_OWNER)
    if not isinstance(data, Annotated):
        raise InvalidTypeError(f"The 'data' parameter of {_OWNER} must be an Annotated (examples, labels, marks). "
                               f"Got {type(data).__name__}.")
    if validation is not None and not isinstance(validation, Annotated):
        raise InvalidTypeError(f"The 'validation' parameter of {_OWNER} must be an Annotated or None. "
                               f"Got {type(validation).__name__}.")
    method = check_choice(method, "method", METHODS, owner=_OWNER)
    epochs = check_int(epochs, "epochs", owner=_OWNER, minimum=1)
    batch_size = check_int(batch_size, "batch_size", owner=_OWNER, minimum=2)
    n_counterexamples = check_int(n_counterexamples, "n_counterexamples", owner=_OWNER, minimum=1)
    lr = check_float(lr, "lr", owner=_OWNER, minimum=0.0, exclusive_minimum=True)
    if lam != "auto":
        lam = check_float(lam, "lam", owner=_OWNER, minimum=0.0)
    if len(data) < 2:
        raise InvalidArgumentError(f"The 'data' of {_OWNER} must hold at least 2 examples. Got {len(data)}.")
    if data.n_annotated == 0 and method != "rrr":
        raise InvalidArgumentError(f"The 'data' of {_OWNER} has no example with a feature marked irrelevant, so "
                                   f"method {method!r} has nothing to work with.")
    if not np.any(data.labels >= 0):
        raise InvalidArgumentError(f"The 'data' of {_OWNER} must hold labelled examples (labels >= 0). Got none.")
    t0 = time.perf_counter()
    model = clone_adapter(parent, owner=_OWNER)
    model.name = name or f"{parent.name}-retrained"
    gradient = model.require_gradients(_OWNER)
    module = model.module
    trained = trainable_parameters(module, train)
    chosen = {id(p) for p in trained}
    frozen = [p for p in module.parameters() if id(p) not in chosen and p.requires_grad]
    uses_rrr, uses_copies = method in ("rrr", "both"), method in ("counterexamples", "both")

    before = _measures(parent, data, validation, batch_size)
    labels = torch.as_tensor(data.labels)
    generator = torch.Generator().manual_seed(seed)
    if lam == "auto":
        lam = _auto_lambda(gradient, data, batch_size) if uses_rrr and data.n_annotated else 0.0

    def loss_fn(idx: torch.Tensor) -> dict[str, torch.Tensor]:
        idx = idx.tolist()
        encoded = gradient.encode([data.examples[i] for i in idx])
        x, extras = encoded.x.detach(), dict(encoded.extras)
        y = labels[idx].to(x.device)
        marked = _marked(encoded, [data.irrelevant[i] for i in idx], tuple(encoded.feature_mask.shape))
        if uses_copies:
            x, extras, y, marked = counterexamples(gradient, x, extras, encoded.feature_mask, marked, y,
                                                   n_counterexamples, generator)
        if uses_rrr:
            penalty, logits = rrr_penalty(gradient, x, extras, marked)
        else:
            logits = gradient.forward(x, extras)
            penalty = logits.sum() * 0.0
        known = y >= 0
        ce = (nn.functional.cross_entropy(logits[known], y[known]) if bool(known.any()) else logits.sum() * 0.0)
        return {"loss": ce + lam * penalty, "cross_entropy": ce.detach(), "rrr": penalty.detach()}

    def batches(_epoch: int) -> list[torch.Tensor]:
        return list(torch.randperm(len(data), generator=generator).split(batch_size))

    def on_epoch_end(_epoch: int) -> dict[str, float]:
        out = {}
        if validation is not None:
            out["val/accuracy"] = measure(model, validation, batch_size=batch_size)["accuracy"]
        if data.n_annotated:
            annotated = _annotated_only(data)
            out["train/marked_share"] = measure(model, annotated, batch_size=batch_size)["marked_share"]
        return out

    for p in frozen:
        p.requires_grad_(False)
    try:
        history = fit(module, loss_fn, batches, optimizer=torch.optim.Adam(trained, lr=lr, weight_decay=weight_decay),
                      epochs=epochs, seed=seed, log_dir=log_dir, on_epoch_end=on_epoch_end, progress=progress,
                      description=f"Retraining ({method})")
    finally:
        for p in frozen:
            p.requires_grad_(True)
    module.eval()
    model.forget_model_id()
    after = _measures(model, data, validation, batch_size)
    model.card = dict(parent.card, name=model.name, parent=parent.name, parent_model_id=parent.model_id,
                      retraining=method)
    return Retrained(adapter=model, parent_model_id=parent.model_id, method=method, lam=float(lam), train=train,
                     history=history, before=before, after=after, feedback_ids=tuple(data.feedback_ids),
                     seconds=time.perf_counter() - t0,
                     settings={"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
                               "n_counterexamples": n_counterexamples, "n_train": len(data),
                               "n_annotated": data.n_annotated})


def _annotated_only(data: Annotated) -> Annotated:
    keep = [i for i, marks in enumerate(data.irrelevant) if marks]
    return Annotated([data.examples[i] for i in keep], data.labels[keep], tuple(data.irrelevant[i] for i in keep))


def _measures(adapter: ModelAdapter, data: Annotated, validation: Annotated | None, batch_size: int) -> dict:
    """``accuracy`` on the validation data (NaN without it) and ``marked_share`` on the annotated training data."""
    out = {"accuracy": float("nan"), "marked_share": float("nan")}
    if validation is not None:
        out["accuracy"] = measure(adapter, validation, batch_size=batch_size)["accuracy"]
    if data.n_annotated:
        out["marked_share"] = measure(adapter, _annotated_only(data), batch_size=batch_size)["marked_share"]
    return out


def _auto_lambda(gradient: GradientAdapter, data: Annotated, batch_size: int, n_rows: int = 512) -> float:
    """``10 * CE / R`` on the parent (see :func:`retrain`), from up to ``n_rows`` rows of each kind."""
    labelled = np.flatnonzero(data.labels >= 0)[:n_rows]
    annotated = [i for i, marks in enumerate(data.irrelevant) if marks][:n_rows]
    module = gradient.module
    was_training = module.training
    module.eval()
    ce_sum, penalty_sum = 0.0, 0.0
    try:
        with torch.no_grad():
            for start in range(0, len(labelled), batch_size):
                idx = labelled[start:start + batch_size].tolist()
                encoded = gradient.encode([data.examples[i] for i in idx])
                logits = gradient.forward(encoded.x, encoded.extras)
                ce_sum += float(nn.functional.cross_entropy(logits, torch.as_tensor(data.labels[idx]).to(
                    logits.device), reduction="sum"))
        for start in range(0, len(annotated), batch_size):
            idx = annotated[start:start + batch_size]
            encoded = gradient.encode([data.examples[i] for i in idx])
            marked = _marked(encoded, [data.irrelevant[i] for i in idx], tuple(encoded.feature_mask.shape))
            with torch.enable_grad():
                penalty, _ = rrr_penalty(gradient, encoded.x.detach(), encoded.extras, marked)
            penalty_sum += float(penalty.detach()) * len(idx)
    finally:
        module.train(was_training)
    ce = ce_sum / max(len(labelled), 1)
    # The penalty of a batch is averaged over all its rows: per row it is the annotated share times R.
    per_row = penalty_sum / max(len(annotated), 1) * data.n_annotated / len(data)
    return float(10.0 * max(ce, 1e-3) / per_row) if per_row > 0 else 0.0


# -- feedback from a store -----------------------------------------------------------------------------------------
def annotated_from_store(store: Any, adapter: ModelAdapter, examples: Sequence[Any] = (),
                         labels: Sequence[int] = (), *, model_id: str | None = None) -> Annotated:
    """Training data with the store's feedback on ``adapter`` (records whose model id is the adapter's, or
    ``model_id``) merged in.

    Each record's input is matched to the training examples by input id: a match gets the record's marks (several
    records on one input: the union of their irrelevant marks) and its label correction; a record whose input is
    not among the examples is added (its text, its table row, or its image read from ``image_path`` and checked
    against ``image_sha256``), labelled by its correction or, without one, only penalised (label -1).
    """
    from .record import file_sha256

    model_id = model_id or adapter.model_id
    records = store.list(model_id=model_id)
    examples = list(examples)
    labels = [int(v) for v in labels]
    if len(examples) != len(labels):
        raise InvalidArgumentError(f"The 'examples' and 'labels' of annotated_from_store must have the same length. "
                                   f"Got {len(examples)} and {len(labels)}.")
    if not records:
        raise InvalidArgumentError(f"The store {str(store.path)!r} holds no feedback on the model {model_id!r} "
                                   f"({adapter.name}); `lumos feedback list` shows what it holds.")
    index = {adapter.input_id(e): i for i, e in enumerate(examples)}
    irrelevant: list[set[int]] = [set() for _ in examples]
    used: list[int] = []
    for record in records:
        position = index.get(record.input_id)
        if position is None:
            example = _example_of(record, adapter, file_sha256)
            if example is None:
                continue
            position = index[record.input_id] = len(examples)
            examples.append(example)
            labels.append(-1)
            irrelevant.append(set())
        irrelevant[position] |= set(record.irrelevant)
        if record.label is not None:
            labels[position] = adapter.resolve_target(record.label, owner="annotated_from_store")
        used.append(int(record.id))
    return Annotated(examples, np.asarray(labels, dtype=np.int64), tuple(tuple(sorted(s)) for s in irrelevant),
                     feedback_ids=tuple(used))


def _example_of(record: Any, adapter: ModelAdapter, file_sha256: Callable[[str], str]) -> Any:
    """The prepared input of a record, or None when the record does not carry it (an image without its file)."""
    if record.kind == "text":
        raw: Any = record.text
    elif record.kind == "table":
        raw = np.asarray(record.row, dtype=np.float64)
    else:
        if not record.image_path or not Path(record.image_path).is_file():
            raise InvalidArgumentError(f"Feedback record {record.id} refers to the image {record.image_path!r}, which "
                                       "is not there any more; retraining needs the image.")
        if record.image_sha256 and file_sha256(record.image_path) != record.image_sha256:
            raise InvalidArgumentError(f"The image {record.image_path!r} of feedback record {record.id} changed since "
                                       "the feedback was given (its SHA-256 differs).")
        raw = record.image_path
    (example,), _ = adapter.split_inputs([raw])
    return example


# -- new model versions on disk ---------------------------------------------------------------------------------
def _parent_source(adapter: ModelAdapter) -> str:
    """Where the architecture is rebuilt from: a model directory (compressed, retrained, Hugging Face) or a zoo
    name."""
    from .. import zoo

    card = adapter.card
    for key in ("directory", "source"):
        if card.get(key):
            return str(card[key])
    original = card.get("parent") or adapter.name
    if original in zoo.names():
        return original
    raise UnsupportedModelError(f"Retrained.save rebuilds the model from its parent: a zoo model or a model "
                                f"directory. {original!r} is neither; save the torch module's state_dict yourself.")


def is_retrained(path: str | Path) -> bool:
    """Whether ``path`` is a directory written by :meth:`Retrained.save`."""
    return (Path(path) / CONFIG_FILE).is_file()


def load_retrained(directory: str | Path, **adapter_kwargs: Any) -> ModelAdapter:
    """Read a model written by :meth:`Retrained.save`: load its parent, then the stored weights (strictly)."""
    from safetensors.torch import load_file

    from ..models import load_model

    directory = Path(directory)
    try:
        config = json.loads((directory / CONFIG_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{str(directory)!r} holds no readable {CONFIG_FILE}: {exc}") from exc
    if config.get("format") != FORMAT:
        raise ModelLoadError(f"{str(directory / CONFIG_FILE)!r} has format {config.get('format')!r}; this lumos reads "
                             f"{FORMAT!r}.")
    adapter = load_model(config["parent"], **adapter_kwargs)
    state = load_file(str(directory / WEIGHTS_FILE))
    try:
        adapter.module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelLoadError(f"The weights in {str(directory / WEIGHTS_FILE)!r} do not fit the model rebuilt from "
                             f"{config['parent']!r}: {exc}") from None
    adapter.module.eval()
    adapter.forget_model_id()
    adapter.name = config.get("name", adapter.name)
    card = {k: v for k, v in config.items() if k != "format"}  # history: the report draws the training curves
    adapter.card = dict(adapter.card, **card, directory=str(directory.resolve()))
    return adapter


register_source(ModelSource("retrained", accepts=lambda path: isinstance(path, (str, Path)) and is_retrained(
    Path(path).expanduser()), load=lambda path, **kw: load_retrained(Path(path).expanduser(), **kw),
    description=lambda: "a retrained model (lumos.feedback.retrain)", directory=True))
