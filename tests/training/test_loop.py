"""The training loop: known answers on linear regression, L-BFGS, history, seeding, scheduling, clipping,
TensorBoard logs and errors that name the bad argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lumos.errors import InvalidArgumentError, InvalidTypeError
from lumos.training import fit


@pytest.fixture()
def regression():
    """200 rows, 3 features, y = x w + b + noise, and the least-squares solution (w, b) in closed form."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([[1.5], [-2.0], [0.5]], dtype=torch.float64) + 0.3
    y = y + 0.1 * torch.randn(200, 1, generator=g, dtype=torch.float64)
    solution = torch.linalg.lstsq(torch.cat([x, torch.ones(200, 1, dtype=x.dtype)], 1), y).solution
    return x, y, solution[:3].T, solution[3]


def _linear(n_in: int = 3) -> nn.Linear:
    model = nn.Linear(n_in, 1).double()
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    return model


def _mse(model):
    return lambda batch: nn.functional.mse_loss(model(batch[0]), batch[1])


def test_full_batch_gradient_descent_reaches_the_least_squares_solution(regression):
    """SGD on the mean squared error, 300 full-batch steps, lands on the closed-form solution within 1e-9."""
    x, y, w, b = regression
    model = _linear()
    fit(model, _mse(model), [(x, y)], optimizer=torch.optim.SGD(model.parameters(), lr=0.3), epochs=300)
    assert torch.allclose(model.weight, w, atol=1e-9, rtol=0) and torch.allclose(model.bias, b, atol=1e-9, rtol=0)


def test_shuffled_minibatches_from_a_callable_reach_the_solution(regression):
    """On targets the solution fits exactly, SGD over 4 shuffled batches per epoch (``batches(epoch)``, called with
    epochs 0..99) ends within 1e-9 of it."""
    x, _, w, b = regression
    y = x @ w.T + b
    model = _linear()
    g = torch.Generator().manual_seed(1)
    epochs = []

    def batches(epoch):
        epochs.append(epoch)
        return [(x[i], y[i]) for i in torch.randperm(200, generator=g).split(50)]

    history = fit(model, _mse(model), batches, optimizer=torch.optim.SGD(model.parameters(), lr=0.2), epochs=100)
    assert epochs == list(range(100)) and len(history) == 100
    assert torch.allclose(model.weight, w, atol=1e-9, rtol=0) and torch.allclose(model.bias, b, atol=1e-9, rtol=0)


def test_lbfgs_takes_one_closure_step_per_batch_and_reports_the_loss_before_it(regression):
    """One epoch of L-BFGS (a closure optimizer) solves the problem to 1e-7 (it stops after 9 iterations, 5e-9
    away); the history holds the loss at the first evaluation, which from zero weights is mean(y^2)."""
    x, y, w, b = regression
    model = _linear()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=100, tolerance_grad=1e-12,
                                  tolerance_change=1e-15, line_search_fn="strong_wolfe")
    history = fit(model, _mse(model), [(x, y)], optimizer=optimizer)
    assert torch.allclose(model.weight, w, atol=1e-7, rtol=0) and torch.allclose(model.bias, b, atol=1e-7, rtol=0)
    assert history == [{"epoch": 1, "loss": float((y ** 2).mean())}]


def test_history_has_one_entry_per_epoch_with_the_mean_of_each_term():
    """With named terms, each epoch's entry holds the mean of every term over its steps (batches 0..3: 1.5) and
    what on_epoch_end returned; on_epoch_end runs after an epoch's last step and before the next epoch's batches."""
    weight = nn.Parameter(torch.zeros(()))
    model = nn.Module()
    model.weight = weight
    events = []

    def batches(epoch):
        events.append(f"batches {epoch}")
        return [torch.tensor(float(i)) for i in range(4)]

    def terms(batch):
        events.append("step")
        return {"loss": (weight - batch) ** 2, "batch": batch}

    def on_epoch_end(epoch):
        events.append(f"end {epoch}")
        return {"score": 10.0 * epoch}

    history = fit(model, terms, batches, optimizer=torch.optim.SGD([weight], lr=0.0), epochs=3,
                  on_epoch_end=on_epoch_end)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert all(list(h) == ["epoch", "loss", "batch", "score"] for h in history)
    assert [h["batch"] for h in history] == [1.5, 1.5, 1.5] and [h["score"] for h in history] == [10.0, 20.0, 30.0]
    assert history[0]["loss"] == pytest.approx((0 + 1 + 4 + 9) / 4)
    assert events == ["batches 0", *["step"] * 4, "end 1", "batches 1", *["step"] * 4, "end 2", "batches 2",
                      *["step"] * 4, "end 3"]


def _dropout_run(seed: int) -> torch.Tensor:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    x, y = torch.ones(16, 4), torch.ones(16, 1)
    fit(model, lambda b: nn.functional.mse_loss(model(b[0]), b[1]), [(x, y)],
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=5, seed=seed)
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_a_seed_gives_the_same_weights_and_leaves_the_global_generator_alone():
    """Dropout draws from the seed: the same seed twice gives identical weights, another seed differs, and torch's
    global generator is where it was."""
    state = torch.random.get_rng_state()
    a, b, c = _dropout_run(3), _dropout_run(3), _dropout_run(4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_model_trains_in_training_mode_with_gradients_and_gets_its_mode_back(regression):
    """Inside the loop the model is in training mode and gradients are on even under torch.no_grad(); afterwards
    it is back in eval mode."""
    x, y, _, _ = regression
    model = _linear().eval()
    seen = []

    def loss(batch):
        seen.append((model.training, torch.is_grad_enabled()))
        return _mse(model)(batch)

    with torch.no_grad():
        fit(model, loss, [(x, y)], optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=2)
    assert seen == [(True, True), (True, True)] and not model.training


def test_scheduler_steps_after_every_optimizer_step_and_gradients_are_clipped(regression):
    """A halving schedule over 3 epochs x 2 batches ends at lr * 0.5^6; with clip_grad_norm=1e-3 one SGD step of
    lr 1 moves the parameters by exactly 1e-3 (the gradient's norm is far larger)."""
    x, y, _, _ = regression
    model = _linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 ** s)
    fit(model, _mse(model), [(x[:100], y[:100]), (x[100:], y[100:])], optimizer=optimizer, epochs=3,
        scheduler=schedule)
    assert optimizer.param_groups[0]["lr"] == 0.5 ** 6

    model = _linear()
    fit(model, _mse(model), [(x, y)], optimizer=torch.optim.SGD(model.parameters(), lr=1.0), clip_grad_norm=1e-3)
    moved = torch.cat([model.weight.detach().flatten(), model.bias.detach()]).norm()
    assert float(moved) == pytest.approx(1e-3, rel=1e-6)


def test_tensorboard_receives_every_step_and_the_epoch_scores(regression, tmp_path):
    """log_dir gets an event file with train/<term> and train/learning_rate at steps 0..5 and the epoch scores at
    epochs 1..3."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, y, _, _ = regression
    model = _linear()
    halves = [(x[:100], y[:100]), (x[100:], y[100:])]
    fit(model, lambda b: {"loss": _mse(model)(b), "half": 0.5 * _mse(model)(b)}, halves,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=3, log_dir=tmp_path,
        on_epoch_end=lambda epoch: {"validation/score": float(epoch)})
    assert list(tmp_path.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert {"train/loss", "train/half", "train/learning_rate", "validation/score"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train/loss")] == list(range(6))
    assert [(e.step, e.value) for e in events.Scalars("validation/score")] == [(1, 1.0), (2, 2.0), (3, 3.0)]
    assert all(e.value == pytest.approx(0.1) for e in events.Scalars("train/learning_rate"))


@pytest.mark.parametrize("change, error, message", [
    ({"epochs": 0}, InvalidArgumentError, "The 'epochs' parameter of fit must be an int >= 1. Got 0."),
    ({"epochs": 2.0}, InvalidTypeError, "The 'epochs' parameter of fit must be an int >= 1. Got 2.0."),
    ({"seed": -1}, InvalidArgumentError, "The 'seed' parameter of fit must be an int >= 0. Got -1."),
    ({"clip_grad_norm": 0.0}, InvalidArgumentError, "The 'clip_grad_norm' parameter of fit must be a number > 0."),
    ({"optimizer": "adam"}, InvalidTypeError, "The 'optimizer' parameter of fit must be a torch.optim.Optimizer. "
                                              "Got str."),
    ({"model": [nn.Linear(3, 1)]}, InvalidTypeError, "The 'model' parameter of fit must be a torch.nn.Module."),
    ({"loss_fn": 1.0}, InvalidTypeError, "The 'loss_fn' parameter of fit must be a callable"),
    ({"batches": iter([0])}, InvalidTypeError, "not a one-shot iterator. Got list_iterator."),
    ({"batches": 3}, InvalidTypeError, "The 'batches' parameter of fit must be a collection"),
    ({"batches": []}, InvalidArgumentError, "The 'batches' parameter of fit gave no batch for epoch 0."),
    ({"loss_fn": lambda b: torch.ones(2)}, InvalidTypeError, "The 'loss_fn' of fit must return a scalar tensor or a "
                                                             "mapping of scalar tensors holding 'loss'. Got a tensor "
                                                             "of shape (2,)."),
    ({"loss_fn": lambda b: {"total": torch.ones(())}}, InvalidTypeError, "holding 'loss'. Got terms {'total': ()}."),
    ({"loss_fn": lambda b: {"loss": 1.0}}, InvalidTypeError, "holding 'loss'. Got terms {'loss': 'float'}."),
    ({"loss_fn": lambda b: 1.0}, InvalidTypeError, "holding 'loss'. Got float."),
    ({"log_dir": 3}, InvalidTypeError, "The 'log_dir' parameter of fit must be a directory path"),
    ({"on_epoch_end": "print"}, InvalidTypeError, "The 'on_epoch_end' parameter of fit must be a callable"),
])
def test_bad_arguments_are_named(change, error, message):
    """Each bad argument raises a lumos error that names it and what is accepted."""
    model = _linear()
    arguments = dict(model=model, loss_fn=lambda b: model.weight.sum() ** 2, batches=[0],
                     optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(error) as raised:
        fit(**{**arguments, **change})
    assert message in str(raised.value)


def test_a_scheduler_must_drive_the_optimizer_passed():
    """A scheduler built on another optimizer is refused, so the learning rate logged is the one used."""
    model = _linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    other = torch.optim.lr_scheduler.LambdaLR(torch.optim.SGD(model.parameters(), lr=0.1), lambda s: 1.0)
    with pytest.raises(InvalidArgumentError, match="The 'scheduler' parameter of fit must be a torch LRScheduler "
                                                   "built on the 'optimizer' passed"):
        fit(model, lambda b: model.weight.sum(), [0], optimizer=optimizer, scheduler=other)


def test_terms_must_not_change_between_steps():
    """A loss function that returns different terms from one step to the next is an error, not a silent gap."""
    model = _linear()
    terms = [{"loss": model.weight.sum() ** 2}, {"loss": model.weight.sum() ** 2, "extra": torch.zeros(())}]
    with pytest.raises(InvalidArgumentError, match=r"same terms at every step. Got \['extra', 'loss'\] after"):
        fit(model, lambda i: terms[i], [0, 1], optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


def test_lbfgs_matches_numpy_on_logistic_regression():
    """Binary logistic regression by L-BFGS has a gradient of zero at its answer: X^T (sigmoid(X w) - y) / n
    vanishes to 1e-8 (checked in numpy, independently of torch's autograd)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = (x @ np.array([1.0, -1.0, 0.5, 0.0]) + rng.normal(size=300) > 0).astype(np.float64)
    model = _linear(4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)[:, None]
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-15,
                                  line_search_fn="strong_wolfe")
    fit(model, lambda b: nn.functional.binary_cross_entropy_with_logits(model(b[0]), b[1]), [(xt, yt)],
        optimizer=optimizer)
    w, b = model.weight.detach().numpy().ravel(), float(model.bias.detach())
    residual = 1 / (1 + np.exp(-(x @ w + b))) - y
    assert np.abs(np.concatenate([x.T @ residual, [residual.sum()]]) / len(y)).max() < 1e-8
