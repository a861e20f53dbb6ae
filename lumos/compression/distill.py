"""Knowledge distillation: a transformer with fewer blocks, initialised from the teacher's, trained to match the
teacher's soft labels."""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InvalidArgumentError, check_float, check_int
from ..models import ModelAdapter, as_adapter
from ..representation.capture import capture
from ..training import fit
from ._common import blocks, record, working_copy

__all__ = ["distill", "keep_layers", "default_layers"]

#: Default weight of the hidden-state term of :func:`distill`.
HIDDEN_WEIGHT = 1.0

#: The loss and its terms, as logged (TensorBoard ``train/<name>``) and recorded per epoch in the history.
_TERMS = ("loss", "kd_loss", "ce_loss", "hidden_loss")

#: The validation scores' names in the history, from their TensorBoard tags.
_HISTORY_NAMES = {"validation/accuracy": "validation_accuracy",
                  "validation/agreement_with_teacher": "validation_agreement"}


def default_layers(n_teacher: int, n_student: int) -> list[int]:
    """Teacher blocks a student of ``n_student`` blocks starts from: evenly spaced, ending with the last block
    (whose output the classification head was trained on). 6 -> 3: blocks 1, 3, 5."""
    return [int(round((i + 1) * n_teacher / n_student)) - 1 for i in range(n_student)]


def keep_layers(module: nn.Module, layers: Sequence[int]) -> None:
    """Keep only the blocks ``layers`` (in that order) of ``module``'s encoder, in place."""
    path, stack, _ = blocks(module, owner="keep_layers")
    parent_path, _, attribute = path.rpartition(".")
    parent = module.get_submodule(parent_path) if parent_path else module
    setattr(parent, attribute, nn.ModuleList([stack[i] for i in layers]))
    config = getattr(module, "config", None)
    if config is not None and hasattr(config, "num_hidden_layers"):
        config.num_hidden_layers = len(layers)


def _check_data(texts: Any, labels: Any, owner: str, name: str) -> tuple[list[str], np.ndarray | None]:
    if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
        raise InvalidArgumentError(f"The '{name}' parameter of {owner} must be a non-empty list of texts.")
    texts = list(texts)
    if labels is None:
        return texts, None
    labels = np.asarray(labels)
    if labels.shape != (len(texts),) or not np.issubdtype(labels.dtype, np.integer):
        raise InvalidArgumentError(f"The labels of {owner} must hold one class index per text ({len(texts)}). "
                                   f"Got shape {labels.shape}, dtype {labels.dtype}.")
    return texts, labels


def distill(teacher: Any, texts: Sequence[str], labels: Sequence[int] | None = None, *, n_layers: int = 3,
            layers: Sequence[int] | None = None, alpha: float | None = None, temperature: float = 2.0,
            hidden_weight: float = HIDDEN_WEIGHT, unlabeled: Sequence[str] = (), epochs: int = 3,
            batch_size: int = 32, learning_rate: float = 1e-4, weight_decay: float = 0.01,
            validation: tuple[Sequence[str], Sequence[int]] | None = None, log_dir: str | None = None,
            seed: int = 0, progress: bool | None = None) -> ModelAdapter:
    """Train a student with ``n_layers`` transformer blocks to imitate ``teacher`` on ``texts``.

    The student is the teacher with only the blocks ``layers`` kept (by default evenly spaced, ending with the
    last one), so it starts from the teacher's weights; its token embeddings are the teacher's and stay
    frozen (so attributions at the embedding layer compare like with like). It is trained with AdamW
    (linear warm-up over the first 10% of steps, then linear decay) on

    ``loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, labels)
    + hidden_weight * mean_i ||h_i - g_i||^2 / ||g_i||^2``

    where ``h_i`` is the output of the student's block ``i`` and ``g_i`` that of the teacher block it was copied
    from (``layers[i]``), over real tokens. The last term (hidden-state distillation) keeps each block doing the
    work of its teacher block; without it, a student fine-tuned on a few thousand texts drifts from the general
    representation the teacher's head was trained on.

    Parameters
    ----------
    teacher : TransformersAdapter or zoo name
        A transformer with BERT-style blocks. Not modified.
    texts : sequence of str
        Training texts; the teacher labels them (soft labels).
    labels : sequence of int, optional
        Ground-truth classes of ``texts``, for the hard-label term.
    n_layers : int, default 3
    layers : sequence of int, optional
        Teacher blocks the student keeps, overriding ``n_layers``.
    alpha : float in [0, 1], optional
        Weight of the teacher's soft labels. Default 1 without labels, 0.5 with them. ``alpha=0`` and
        ``hidden_weight=0`` train the same student on the labels alone: the baseline a distilled student must
        beat. The teacher helps where labels are few; with many labels a student can outdo a weak teacher, and
        then these zeros are the better setting (bench/RESULTS.md, "Distillation").
    temperature : float > 0, default 2.0
    hidden_weight : float >= 0, default 1.0
        Weight of the hidden-state term (relative squared error, so the weight does not depend on the scale of
        the hidden states). It costs one teacher forward pass per batch (about 1.7x the training time of 0). On
        the zoo model it raised held-out accuracy and kept the student's explanations closer to the teacher's
        (bench/RESULTS.md, "Distillation").
    unlabeled : sequence of str, optional
        Further texts without labels (a transfer set): the teacher's soft labels and hidden states are the only
        signal on them.
    epochs, batch_size, learning_rate, weight_decay
        Training settings (defaults 3, 32, 1e-4, 0.01).
    validation : (texts, labels), optional
        Evaluated after each epoch (accuracy, agreement with the teacher), logged and recorded.
    log_dir : str, optional
        Write TensorBoard scalars there (loss per step; validation per epoch). Needs the ``tensorboard``
        package.
    seed : int, default 0
        Seeds batch order and dropout (the global random state is saved and restored around training).
        Batches hold texts of similar length (sorted within pools of 50 batches), so they pad little.

    Returns
    -------
    ModelAdapter
        The student; ``.compression[-1]`` records the layers, settings and per-epoch history.

    References
    ----------
    Hinton, Vinyals, Dean. Distilling the knowledge in a neural network. 2015. Sanh, Debut, Chaumond, Wolf.
    DistilBERT, a distilled version of BERT. 2019 (students initialised from every other teacher layer). Jiao et
    al. TinyBERT: distilling BERT for natural language understanding. 2020 (hidden-state distillation).
    """
    owner = "distill"
    texts, labels = _check_data(texts, labels, owner, "texts")
    unlabeled = _check_unlabeled(unlabeled, owner)
    teacher = as_adapter(teacher)
    alpha = check_float((1.0 if labels is None else 0.5) if alpha is None else alpha, "alpha", owner=owner,
                        minimum=0, maximum=1)
    if labels is None and alpha < 1.0:
        raise InvalidArgumentError(f"The 'alpha' parameter of {owner} is below 1, which weighs in the labels; pass "
                                   "'labels' or alpha=1.")
    temperature = check_float(temperature, "temperature", owner=owner, minimum=0.0, exclusive_minimum=True)
    hidden_weight = check_float(hidden_weight, "hidden_weight", owner=owner, minimum=0.0)
    if unlabeled and alpha == 0 and hidden_weight == 0:
        raise InvalidArgumentError(f"The 'unlabeled' texts of {owner} are learnt from the teacher alone, which "
                                   "alpha=0 and hidden_weight=0 switch off; raise either or drop 'unlabeled'.")
    epochs = check_int(epochs, "epochs", owner=owner, minimum=1)
    batch_size = check_int(batch_size, "batch_size", owner=owner, minimum=1)
    learning_rate = check_float(learning_rate, "learning_rate", owner=owner, minimum=0.0, exclusive_minimum=True)
    weight_decay = check_float(weight_decay, "weight_decay", owner=owner, minimum=0.0)
    seed = check_int(seed, "seed", owner=owner, minimum=0)
    val = None
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise InvalidArgumentError(f"The 'validation' parameter of {owner} must be a pair (texts, labels).")
        val = _check_data(validation[0], validation[1], owner, "validation")

    student = working_copy(teacher, owner=owner)
    layers = _student_layers(student.module, n_layers, layers, owner)
    keep_layers(student.module, layers)
    module = student.module
    flags = _freeze_embeddings(module)

    n_labeled = len(texts)
    texts = texts + unlabeled
    # The teacher's logits: read once up front, or, with the hidden-state term, from the forward pass that term
    # makes on each batch anyway.
    soft = torch.from_numpy(teacher.predict(texts)).float() if hidden_weight == 0 else None
    hard = None
    if labels is not None:  # -100: no label (cross_entropy's ignore_index)
        hard = torch.cat([torch.tensor(labels, dtype=torch.long), torch.full((len(unlabeled),), -100)])
    optimizer, schedule = _optimizer(module, learning_rate, weight_decay, epochs * math.ceil(len(texts) / batch_size))
    order_rng = np.random.default_rng(seed)
    validate = None if val is None else _validation(student, teacher, *val)
    t0 = time.perf_counter()
    with _hidden_states(student, teacher, layers, hidden_weight > 0) as hidden_states:
        terms = _loss_terms(student, teacher, texts, soft, hard, alpha=alpha, temperature=temperature,
                            hidden_weight=hidden_weight, hidden_states=hidden_states)
        history = fit(module, terms, lambda _epoch: _batches(texts, batch_size, order_rng), optimizer=optimizer,
                      epochs=epochs, scheduler=schedule, clip_grad_norm=1.0, seed=seed, log_dir=log_dir,
                      on_epoch_end=validate, progress=progress, description=f"Distilling into {len(layers)} blocks")
    for p, flag in flags:
        p.requires_grad_(flag)
    history = [{_HISTORY_NAMES.get(k, k): v for k, v in entry.items()} for entry in history]
    return record(student, {"method": "distill", "value": len(layers), "layers": layers, "alpha": alpha,
                            "temperature": temperature, "hidden_weight": hidden_weight, "epochs": epochs,
                            "batch_size": batch_size, "learning_rate": learning_rate, "n_train": n_labeled,
                            "n_unlabeled": len(unlabeled), "seed": seed,
                            "seconds": round(time.perf_counter() - t0, 1), "history": history})


def _student_layers(module: nn.Module, n_layers: int, layers: Sequence[int] | None, owner: str) -> list[int]:
    """The teacher blocks the student keeps: ``layers`` checked, or ``n_layers`` evenly spaced ones."""
    _, stack, _ = blocks(module, owner=owner)
    n_teacher = len(stack)
    if layers is None:
        n_layers = check_int(n_layers, "n_layers", owner=owner, minimum=1, maximum=n_teacher)
        layers = default_layers(n_teacher, n_layers)
    layers = [check_int(i, "layers", owner=owner, minimum=0, maximum=n_teacher - 1) for i in layers]
    if not layers:
        raise InvalidArgumentError(f"The 'layers' parameter of {owner} must name at least one teacher block.")
    return layers


def _freeze_embeddings(module: nn.Module) -> list[tuple[nn.Parameter, bool]]:
    """Freeze the embedding block's parameters, train all others; returns each parameter's flag before."""
    frozen = {id(p) for p in _embedding_block(module).parameters()}
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(id(p) not in frozen)
    return flags


def _optimizer(module: nn.Module, learning_rate: float, weight_decay: float, total: int
               ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW on the trainable parameters; the learning rate warms up linearly over the first 10% of the ``total``
    steps, then decays linearly to 0."""
    trainable = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=weight_decay)
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    return optimizer, schedule


_HiddenStates = Callable[[], tuple[list[torch.Tensor], list[torch.Tensor]]]


@contextlib.contextmanager
def _hidden_states(student: ModelAdapter, teacher: ModelAdapter, layers: Sequence[int], enabled: bool
                   ) -> Iterator[_HiddenStates | None]:
    """While open, a function giving the outputs of the student's blocks (in the autograd graph) and of the
    teacher blocks they were copied from, at their last forward passes; None when the hidden-state term is off."""
    if not enabled:
        yield None
        return
    mine, theirs = [f"layers.{i}.output" for i in range(len(layers))], [f"layers.{j}.output" for j in layers]
    with capture(student.module, mine, detach=False) as taps, capture(teacher.module, theirs) as teacher_taps:
        yield lambda: ([taps[name] for name in mine], [teacher_taps[name] for name in theirs])


def _loss_terms(student: ModelAdapter, teacher: ModelAdapter, texts: Sequence[str], soft: torch.Tensor | None,
                hard: torch.Tensor | None, *, alpha: float, temperature: float, hidden_weight: float,
                hidden_states: _HiddenStates | None) -> Callable[[np.ndarray], dict[str, torch.Tensor]]:
    """The loss of :func:`distill` on a batch of text indices, with its terms (named as in ``_TERMS``)."""

    def terms(idx: np.ndarray) -> dict[str, torch.Tensor]:
        inputs = student.model_inputs([texts[i] for i in idx])
        mask = inputs["attention_mask"]
        logits = student.run(inputs).float()
        hidden = logits.new_zeros(())
        if hidden_states is None:
            target = soft[idx].to(logits.device)
        else:
            with torch.no_grad():
                target = teacher.run({k: v.to(teacher.device) for k, v in inputs.items()}).float().to(logits.device)
            hidden = _hidden_loss(*hidden_states(), mask)
        kd = F.kl_div(F.log_softmax(logits / temperature, -1), F.softmax(target / temperature, -1),
                      reduction="batchmean") * temperature ** 2
        ce = logits.new_zeros(())
        if hard is not None and bool((hard[idx] >= 0).any()):
            ce = F.cross_entropy(logits, hard[idx].to(logits.device), ignore_index=-100)
        loss = alpha * kd + (1 - alpha) * ce + hidden_weight * hidden
        return dict(zip(_TERMS, (loss, kd, ce, hidden)))

    return terms


def _validation(student: ModelAdapter, teacher: ModelAdapter, texts: list[str], labels: np.ndarray
                ) -> Callable[[int], dict[str, float]]:
    """After each epoch: the student's accuracy on the validation texts and its agreement with the teacher."""
    teacher_predicted = teacher.predict(texts).argmax(1)

    def scores(_epoch: int) -> dict[str, float]:
        student.module.eval()
        predicted = student.predict(texts).argmax(1)
        student.module.train()
        return {"validation/accuracy": float((predicted == labels).mean()),
                "validation/agreement_with_teacher": float((predicted == teacher_predicted).mean())}

    return scores


def _hidden_loss(student: list[torch.Tensor], teacher: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """Mean over blocks of the relative squared error ||h - g||^2 / ||g||^2 over the real tokens."""
    keep = mask.unsqueeze(-1).to(student[0].device, torch.float32)
    terms = []
    for h, g in zip(student, teacher):
        h, g = h.float(), g.float().to(h.device)
        terms.append((((h - g) ** 2) * keep).sum() / ((g ** 2) * keep).sum())
    return torch.stack(terms).mean()


def _check_unlabeled(unlabeled: Any, owner: str) -> list[str]:
    if isinstance(unlabeled, str) or not isinstance(unlabeled, Sequence) or \
            not all(isinstance(t, str) for t in unlabeled):
        raise InvalidArgumentError(f"The 'unlabeled' parameter of {owner} must be a list of texts (may be empty).")
    return list(unlabeled)


def _batches(texts: Sequence[str], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's batches: a random order, cut into pools of 50 batches whose texts are sorted by length
    before being batched (so a batch pads little), then the batches shuffled."""
    order = rng.permutation(len(texts))
    pool = 50 * batch_size
    out = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: len(texts[i]))
        out += [np.asarray(chunk[i:i + batch_size]) for i in range(0, len(chunk), batch_size)]
    return [out[i] for i in rng.permutation(len(out))]


def _embedding_block(module: nn.Module) -> nn.Module:
    """The encoder's embeddings module (word, position and type embeddings with their LayerNorm), or the
    input embedding alone where the model has no such module."""
    from ..representation import sites

    site = sites(module).get("embeddings")
    return module.get_submodule(site.path) if site is not None else module.get_input_embeddings()
