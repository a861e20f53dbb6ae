"""Knowledge distillation: a transformer with fewer blocks, initialised from the teacher's, trained to match the
teacher's soft labels."""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..engine import track
from ..errors import InvalidArgumentError, check_float, check_int
from ..models import ModelAdapter, as_adapter
from ._common import blocks, record, working_copy

__all__ = ["distill", "keep_layers", "default_layers"]

#: Default weight of the hidden-state term of :func:`distill`.
HIDDEN_WEIGHT = 1.0

#: The loss and its terms, as logged (TensorBoard ``train/<name>``) and recorded per epoch in the history.
_TERMS = ("loss", "kd_loss", "ce_loss", "hidden_loss")


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
    _, stack, _ = blocks(student.model, owner=owner)
    n_teacher = len(stack)
    if layers is None:
        n_layers = check_int(n_layers, "n_layers", owner=owner, minimum=1, maximum=n_teacher)
        layers = default_layers(n_teacher, n_layers)
    layers = [check_int(i, "layers", owner=owner, minimum=0, maximum=n_teacher - 1) for i in layers]
    if not layers:
        raise InvalidArgumentError(f"The 'layers' parameter of {owner} must name at least one teacher block.")
    keep_layers(student.model, layers)
    module = student.model
    frozen = {id(p) for p in _embedding_block(module).parameters()}
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(id(p) not in frozen)

    n_labeled = len(texts)
    texts = texts + unlabeled
    # The teacher's logits: read once up front, or, with the hidden-state term, from the forward pass that term
    # makes on each batch anyway.
    soft = torch.from_numpy(teacher.predict(texts)).float() if hidden_weight == 0 else None
    hard = None
    if labels is not None:  # -100: no label (cross_entropy's ignore_index)
        hard = torch.cat([torch.tensor(labels, dtype=torch.long), torch.full((len(unlabeled),), -100)])
    val_teacher = teacher.predict(val[0]).argmax(1) if val is not None else None
    writer = _writer(log_dir)
    trainable = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(texts) / batch_size)
    total = epochs * steps_per_epoch
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    order_rng = np.random.default_rng(seed)
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    batches = [(e, idx) for e in range(epochs) for idx in _batches(texts, batch_size, order_rng)]
    step, losses = 0, []
    taps = _BlockOutputs(blocks(module, owner=owner)[1], range(len(layers))) if hidden_weight > 0 else None
    teacher_taps = _BlockOutputs(blocks(teacher.model, owner=owner)[1], layers) if hidden_weight > 0 else None
    with torch.random.fork_rng(devices=[student.device] if student.device.type == "cuda" else []):
        torch.manual_seed(seed)
        module.train()
        try:
            for epoch, idx in track(batches, description=f"Distilling into {len(layers)} blocks", enabled=progress):
                input_ids, mask = student._pad([texts[i] for i in idx])
                logits = student._call(input_ids=input_ids, attention_mask=mask).float()
                hidden = logits.new_zeros(())
                if taps is None:
                    target = soft[idx].to(logits.device)
                else:
                    with torch.no_grad():
                        target = teacher._call(input_ids=input_ids.to(teacher.device),
                                               attention_mask=mask.to(teacher.device)).float().to(logits.device)
                    hidden = _hidden_loss(taps.take(), teacher_taps.take(), mask)
                kd = F.kl_div(F.log_softmax(logits / temperature, -1), F.softmax(target / temperature, -1),
                              reduction="batchmean") * temperature ** 2
                ce = logits.new_zeros(())
                if hard is not None and bool((hard[idx] >= 0).any()):
                    ce = F.cross_entropy(logits, hard[idx].to(logits.device), ignore_index=-100)
                loss = alpha * kd + (1 - alpha) * ce + hidden_weight * hidden
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(trainable, 1.0)
                optimizer.step()
                schedule.step()
                losses.append((float(loss.detach()), float(kd.detach()), float(ce.detach()), float(hidden.detach())))
                if writer is not None:
                    for tag, value in zip(_TERMS, losses[-1]):
                        writer.add_scalar(f"train/{tag}", value, step)
                    writer.add_scalar("train/learning_rate", schedule.get_last_lr()[0], step)
                step += 1
                if step % steps_per_epoch == 0 or step == total:
                    means = np.mean(losses[-steps_per_epoch:], axis=0)
                    entry = {"epoch": epoch + 1, **{tag: float(v) for tag, v in zip(_TERMS, means)}}
                    if val is not None:
                        module.eval()
                        predicted = student.predict(val[0]).argmax(1)
                        module.train()
                        entry["validation_accuracy"] = float((predicted == val[1]).mean())
                        entry["validation_agreement"] = float((predicted == val_teacher).mean())
                        if writer is not None:
                            writer.add_scalar("validation/accuracy", entry["validation_accuracy"], epoch + 1)
                            writer.add_scalar("validation/agreement_with_teacher", entry["validation_agreement"],
                                              epoch + 1)
                    history.append(entry)
        finally:
            module.eval()
            for t in (taps, teacher_taps):
                if t is not None:
                    t.remove()
            if writer is not None:
                writer.close()
    for p, flag in flags:
        p.requires_grad_(flag)
    return record(student, {"method": "distill", "value": len(layers), "layers": layers, "alpha": alpha,
                            "temperature": temperature, "hidden_weight": hidden_weight, "epochs": epochs,
                            "batch_size": batch_size, "learning_rate": learning_rate, "n_train": n_labeled,
                            "n_unlabeled": len(unlabeled), "seed": seed,
                            "seconds": round(time.perf_counter() - t0, 1), "history": history})


class _BlockOutputs:
    """Forward hooks that keep the hidden states output by the blocks ``which`` of ``stack`` on each call."""

    def __init__(self, stack: nn.ModuleList, which: Sequence[int]) -> None:
        self._out: dict[int, torch.Tensor] = {}
        self._handles = [stack[j].register_forward_hook(self._keeper(i)) for i, j in enumerate(which)]

    def _keeper(self, i: int):
        def hook(_module, _inputs, output):
            self._out[i] = output[0] if isinstance(output, (tuple, list)) else output
        return hook

    def take(self) -> list[torch.Tensor]:
        return [self._out.pop(i) for i in range(len(self._handles))]

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


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


def _writer(log_dir: str | None) -> Any:
    if log_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # tensorboard is a dependency of lumos; a trimmed environment may lack it
        raise InvalidArgumentError("The 'log_dir' parameter of distill writes TensorBoard logs, which needs the "
                                   "'tensorboard' package: pip install tensorboard.") from exc
    return SummaryWriter(log_dir=str(log_dir))
