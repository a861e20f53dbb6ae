"""The one training loop: zoo models, probes, distillation and retraining all call :func:`fit`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sized

import numpy as np
import torch
from torch import nn

from ..engine.progress import track
from ..errors import InvalidArgumentError, InvalidTypeError, check_float, check_int

__all__ = ["fit"]

_OWNER = "fit"

_Terms = Mapping[str, torch.Tensor]


def fit(model: nn.Module, loss_fn: Callable[[Any], torch.Tensor | _Terms],
        batches: Iterable[Any] | Callable[[int], Iterable[Any]], *, optimizer: torch.optim.Optimizer,
        epochs: int = 1, scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        clip_grad_norm: float | None = None, seed: int = 0, log_dir: str | Path | None = None,
        on_epoch_end: Callable[[int], Mapping[str, float] | None] | None = None,
        progress: bool | None = None, description: str = "Training") -> list[dict[str, float]]:
    """Minimise ``loss_fn`` over ``batches`` for ``epochs`` epochs, one optimizer step per batch.

    Each step clears the gradients, evaluates ``loss_fn(batch)``, back-propagates its ``"loss"``, clips the
    gradient norm (if asked), steps the optimizer, then the scheduler. Optimizers that re-evaluate the loss
    (:class:`torch.optim.LBFGS`) get those four operations as their closure, so one L-BFGS step (up to its
    ``max_iter`` iterations) is taken per batch.

    Parameters
    ----------
    model : torch.nn.Module
        Put in training mode during the loop and back in its previous mode afterwards. Its parameters'
        CUDA devices are the ones whose random state is forked.
    loss_fn : callable
        ``loss_fn(batch)`` returns the scalar loss, or a mapping of named scalar terms holding ``"loss"`` (the
        one minimised; the others are only logged, e.g. the parts of a weighted sum). The same names each
        step.
    batches : iterable or callable
        What one epoch iterates over: a collection iterated anew each epoch (a list, a DataLoader), or
        ``batches(epoch)`` (epoch from 0) giving epoch ``epoch``'s batches. Not a one-shot iterator.
    optimizer : torch.optim.Optimizer
        Built on the parameters to train.
    epochs : int >= 1, default 1
    scheduler : LRScheduler, optional
        Stepped after every optimizer step (a schedule in steps, not epochs).
    clip_grad_norm : float > 0, optional
        Clip the norm of all the optimizer's gradients together to this before each step.
    seed : int >= 0, default 0
        Seeds torch's generators for the loop (dropout and any other random operation in ``loss_fn``);
        the global random state is saved before and restored after.
    log_dir : str or Path, optional
        Write TensorBoard scalars there: ``train/<term>`` and ``train/learning_rate`` at every step, and what
        ``on_epoch_end`` returns, under its own names, at every epoch. Needs the ``tensorboard`` package.
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch)`` (epoch from 1) after each epoch's last step; a mapping it returns (such as
        validation scores) is added to that epoch's history entry and logged.
    progress : bool or None, default None
        Show a progress bar over the steps (None: when stderr is a terminal). Its length assumes every
        epoch has as many batches as the first.
    description : str, default "Training"
        The progress bar's label.

    Returns
    -------
    list of dict
        One entry per epoch: ``{"epoch": n, <term>: mean over the epoch's steps, ...}`` plus what
        ``on_epoch_end`` returned. For L-BFGS a step's terms are those of its first evaluation (before it
        moved the parameters), as for the other optimizers.

    Examples
    --------
    >>> model = torch.nn.Linear(3, 1)
    >>> x, y = torch.randn(64, 3), torch.randn(64, 1)
    >>> history = fit(model, lambda b: torch.nn.functional.mse_loss(model(b[0]), b[1]), [(x, y)],
    ...               optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=20)
    >>> len(history), sorted(history[0])
    (20, ['epoch', 'loss'])
    """
    _check(model, loss_fn, optimizer, scheduler, on_epoch_end)
    epochs = check_int(epochs, "epochs", owner=_OWNER, minimum=1)
    seed = check_int(seed, "seed", owner=_OWNER, minimum=0)
    if clip_grad_norm is not None:
        clip_grad_norm = check_float(clip_grad_norm, "clip_grad_norm", owner=_OWNER, minimum=0.0,
                                     exclusive_minimum=True)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    needs_closure = isinstance(optimizer, torch.optim.LBFGS)

    def step(batch: Any) -> dict[str, float]:
        first: dict[str, float] = {}

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            terms = _terms(loss_fn(batch))
            terms["loss"].backward()
            if clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(parameters, clip_grad_norm)
            if not first:
                first.update({name: float(value.detach()) for name, value in terms.items()})
            return terms["loss"]

        if needs_closure:
            optimizer.step(closure)
        else:
            closure()
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        return first

    first_epoch = _epoch_batches(batches, 0)
    total = epochs * len(first_epoch) if isinstance(first_epoch, Sized) else None
    history: list[dict[str, float]] = []
    rows: list[dict[str, float]] = []  # the terms of each step of the current epoch
    writer = _writer(log_dir)

    def end_epoch(epoch: int) -> None:
        names = list(rows[0])
        means = np.mean([[row[n] for n in names] for row in rows], axis=0)
        extra = dict(on_epoch_end(epoch) or {}) if on_epoch_end is not None else {}
        history.append({"epoch": epoch, **{n: float(v) for n, v in zip(names, means)}, **extra})
        if writer is not None:
            for tag, value in extra.items():
                writer.add_scalar(tag, value, epoch)
        rows.clear()

    def all_batches() -> Iterator[Any]:
        for epoch in range(epochs):
            yield from (first_epoch if epoch == 0 else _epoch_batches(batches, epoch))
            if not rows:
                raise InvalidArgumentError(f"The 'batches' parameter of {_OWNER} gave no batch for epoch {epoch}.")
            end_epoch(epoch + 1)  # resumed after the epoch's last step, before the next epoch's batches are made

    devices = sorted({p.device for p in parameters if p.device.type == "cuda"}, key=str)
    was_training = model.training
    with torch.random.fork_rng(devices=devices), torch.enable_grad():
        torch.manual_seed(seed)
        model.train()
        try:
            for n_step, batch in enumerate(track(all_batches(), description=description, total=total,
                                                 enabled=progress)):
                terms = step(batch)
                if rows and terms.keys() != rows[0].keys():
                    raise InvalidArgumentError(f"The 'loss_fn' of {_OWNER} must return the same terms at every "
                                               f"step. Got {sorted(terms)} after {sorted(rows[0])}.")
                rows.append(terms)
                if writer is not None:
                    for name, value in terms.items():
                        writer.add_scalar(f"train/{name}", value, n_step)
                    writer.add_scalar("train/learning_rate", optimizer.param_groups[0]["lr"], n_step)
        finally:
            model.train(was_training)
            if writer is not None:
                writer.close()
    return history


def _check(model: Any, loss_fn: Any, optimizer: Any, scheduler: Any, on_epoch_end: Any) -> None:
    if not isinstance(model, nn.Module):
        raise InvalidTypeError(f"The 'model' parameter of {_OWNER} must be a torch.nn.Module. "
                               f"Got {type(model).__name__}.")
    if not callable(loss_fn):
        raise InvalidTypeError(f"The 'loss_fn' parameter of {_OWNER} must be a callable batch -> loss. "
                               f"Got {type(loss_fn).__name__}.")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise InvalidTypeError(f"The 'optimizer' parameter of {_OWNER} must be a torch.optim.Optimizer. "
                               f"Got {type(optimizer).__name__}.")
    if scheduler is not None and (not isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)
                                  or scheduler.optimizer is not optimizer):
        raise InvalidArgumentError(f"The 'scheduler' parameter of {_OWNER} must be a torch LRScheduler built on "
                                   f"the 'optimizer' passed. Got {type(scheduler).__name__}.")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise InvalidTypeError(f"The 'on_epoch_end' parameter of {_OWNER} must be a callable epoch -> mapping or "
                               f"None. Got {type(on_epoch_end).__name__}.")


def _epoch_batches(batches: Any, epoch: int) -> Iterable[Any]:
    """The batches of epoch ``epoch``: ``batches(epoch)``, or ``batches`` itself when it can be iterated anew."""
    if callable(batches):
        return batches(epoch)
    if not isinstance(batches, Iterable) or isinstance(batches, Iterator):
        raise InvalidTypeError(f"The 'batches' parameter of {_OWNER} must be a collection iterated anew each "
                               f"epoch (a list, a DataLoader) or a callable epoch -> batches, not a one-shot "
                               f"iterator. Got {type(batches).__name__}.")
    return batches


def _terms(value: Any) -> dict[str, torch.Tensor]:
    """``loss_fn``'s result as named scalar terms."""
    if isinstance(value, torch.Tensor):
        terms, got = {"loss": value}, f"a tensor of shape {tuple(value.shape)}"
    elif isinstance(value, Mapping):
        terms = dict(value)
        got = "terms " + str({k: tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
                              for k, v in terms.items()})
    else:
        terms, got = {}, type(value).__name__
    if "loss" not in terms or not all(isinstance(v, torch.Tensor) and v.dim() == 0 for v in terms.values()):
        raise InvalidTypeError(f"The 'loss_fn' of {_OWNER} must return a scalar tensor or a mapping of scalar "
                               f"tensors holding 'loss'. Got {got}.")
    return terms


def _writer(log_dir: str | Path | None) -> Any:
    if log_dir is None:
        return None
    if not isinstance(log_dir, (str, Path)):
        raise InvalidTypeError(f"The 'log_dir' parameter of {_OWNER} must be a directory path (str or Path). "
                               f"Got {type(log_dir).__name__}.")
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # tensorboard is a dependency of lumos; a trimmed environment may lack it
        raise InvalidArgumentError(f"The 'log_dir' parameter of {_OWNER} writes TensorBoard logs, which needs the "
                                   "'tensorboard' package: pip install tensorboard.") from exc
    return SummaryWriter(log_dir=str(log_dir))
