"""Retraining from feedback: the right-reasons term is zero without marks and its gradient is exact (finite
differences through the double back-propagation); counterexamples resample only the marked features; which
parameters train; a retrained model is saved, reloads through lumos.load_model and reproduces its recorded
metrics; feedback in a store becomes training data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lumos
from lumos.errors import InvalidArgumentError
from lumos.feedback import (Annotated, Feedback, FeedbackStore, annotated_from_store, measure, retrain, rrr_penalty,
                            simulate_annotator, trainable_parameters)
from lumos.feedback.retrain import counterexamples


def _tiny(seed: int = 0) -> lumos.TorchAdapter:
    """A float64 MLP 4-5-3 with tanh (smooth, so finite differences of its input gradients are accurate)."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    return lumos.TorchAdapter(model, class_names=["a", "b", "c"], feature_names=["w", "x", "y", "z"])


def test_the_penalty_is_zero_when_nothing_is_marked():
    """With no feature marked the right-reasons term is exactly 0, and so is its gradient; the logits are the
    model's."""
    adapter = _tiny()
    encoded = adapter.encode(list(np.random.default_rng(0).normal(size=(6, 4))))
    penalty, logits = rrr_penalty(adapter, encoded.x, encoded.extras, torch.zeros(6, 4, dtype=torch.bool))
    assert float(penalty.detach()) == 0.0
    penalty.backward()
    assert all(p.grad is None or float(p.grad.abs().max()) == 0.0 for p in adapter.module.parameters())
    torch.testing.assert_close(logits, adapter.module(encoded.x))


def test_the_penalty_is_the_squared_input_gradient_on_marked_features():
    """On one row the term equals sum over marked columns of (d/dx sum_k log p_k)^2, computed independently."""
    adapter = _tiny()
    x = torch.tensor([[0.3, -1.2, 0.5, 2.0]], dtype=torch.float64, requires_grad=True)
    marked = torch.tensor([[True, False, True, False]])
    penalty, _ = rrr_penalty(adapter, x, {}, marked)
    (grad,) = torch.autograd.grad(torch.log_softmax(adapter.module(x), -1).sum(), x)
    assert float(penalty.detach()) == pytest.approx(float(grad[0, 0] ** 2 + grad[0, 2] ** 2), rel=1e-12)


def test_the_penalty_gradient_matches_finite_differences():
    """The gradient of the term with respect to every weight (double back-propagation) agrees with central finite
    differences (torch.autograd.gradcheck, float64)."""
    adapter = _tiny()
    module = adapter.module
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(3, 4)))
    marked = torch.tensor([[True, False, False, True], [False, True, False, False], [False, False, False, False]])
    names = [n for n, _ in module.named_parameters()]

    def term(*weights):
        state = dict(zip(names, weights))
        tiny = lumos.TorchAdapter(_Functional(module, state), class_names=["a", "b", "c"])
        return rrr_penalty(tiny, x, {}, marked)[0]

    weights = tuple(p.detach().clone().requires_grad_(True) for p in module.parameters())
    assert torch.autograd.gradcheck(term, weights, eps=1e-6, atol=1e-7, rtol=1e-5)


class _Functional(nn.Module):
    """``module`` run with the weights in ``state`` (tensors that gradcheck perturbs)."""

    def __init__(self, module: nn.Module, state: dict) -> None:
        super().__init__()
        self.inner, self.state = module, state

    def forward(self, x):
        return torch.func.functional_call(self.inner, self.state, (x,))


def test_counterexamples_resample_only_the_marked_features_and_keep_the_label():
    """Each labelled row with marks gets n copies; a copy differs from its row only at marked positions, where it
    takes the value another row has at that position; rows without marks or labels get none."""
    adapter = _tiny()
    x = torch.arange(20, dtype=torch.float64).reshape(5, 4)[..., None]  # (B, T, 1), every value distinct
    marked = torch.zeros(5, 4, dtype=torch.bool)
    marked[0, 1] = marked[2, 3] = marked[4, 0] = True
    labels = torch.tensor([2, 0, 1, 1, -1])
    g = torch.Generator().manual_seed(0)
    new_x, _, new_y, new_marked = counterexamples(adapter, x, {}, torch.ones(5, 4, dtype=torch.bool), marked,
                                                  labels, 2, g)
    assert new_x.shape[0] == 9 and new_y.tolist() == [2, 0, 1, 1, -1, 2, 1, 2, 1]
    for copy, row in zip(range(5, 9), [0, 2, 0, 2]):
        changed = (new_x[copy] != x[row]).flatten()
        assert changed.tolist() == marked[row].tolist()
        column = int(torch.nonzero(marked[row])[0])
        donor_values = [float(x[r, column]) for r in range(5) if r != row]
        assert float(new_x[copy, column]) in donor_values
        assert torch.equal(new_marked[copy], marked[row])


def test_which_parameters_train():
    """'head' is the last layer with parameters, an int N the last N, 'all' everything; anything else is refused."""
    module = _tiny().module
    assert trainable_parameters(module, "head") == [module[2].weight, module[2].bias]
    assert len(trainable_parameters(module, 2)) == 4 == len(trainable_parameters(module, "all"))
    with pytest.raises(InvalidArgumentError, match="must be 'head', 'all' or a number of last layers >= 1. Got 0"):
        trainable_parameters(module, 0)


def test_head_only_retraining_leaves_the_other_layers_and_the_parent_unchanged():
    """With train='head' only the last layer moves; the parent adapter's weights are never touched."""
    adapter = _tiny()
    before = {k: v.clone() for k, v in adapter.module.state_dict().items()}
    rows = list(np.random.default_rng(2).normal(size=(32, 4)))
    data = simulate_annotator(rows, [i % 3 for i in range(32)], [[0]] * 32, fraction=0.5)
    result = retrain(adapter, data, method="both", train="head", epochs=2, batch_size=8, lam=1.0, progress=False)
    after = result.adapter.module.state_dict()
    assert all(torch.equal(before[k], v) for k, v in adapter.module.state_dict().items())
    assert torch.equal(after["0.weight"], before["0.weight"]) and not torch.equal(after["2.weight"], before["2.weight"])
    assert result.adapter.model_id != adapter.model_id == result.parent_model_id


def test_rrr_moves_attribution_off_a_leaky_column():
    """A tiny MLP first fitted on a column that leaks the label learns, under the penalty on that column (every row
    annotated), to put far less saliency on it while still fitting the labels through the real signal."""
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(256, 3))
    labels = (signal[:, 0] + signal[:, 1] > 0).astype(int)
    leak = labels * 2.0 - 1.0 + 0.01 * rng.normal(size=256)
    rows = list(np.column_stack([signal, leak]).astype(np.float32))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))
    adapter = lumos.TorchAdapter(model, class_names=["no", "yes"])
    data = simulate_annotator(rows, labels, [[3]] * 256, fraction=1.0)
    confounded = retrain(adapter, Annotated.unannotated(rows, labels), lam=0.0, epochs=40, lr=3e-2, batch_size=256,
                         progress=False).adapter
    fixed = retrain(confounded, data, method="rrr", lam=10.0, epochs=40, lr=3e-2, batch_size=256, progress=False)
    assert fixed.before["marked_share"] > 0.3 and fixed.after["marked_share"] < fixed.before["marked_share"] / 4
    assert measure(fixed.adapter, data)["accuracy"] > 0.9
    assert [h["epoch"] for h in fixed.history] == list(range(1, 41)) and "train/marked_share" in fixed.history[0]


@pytest.fixture(scope="module")
def digits():
    """The zoo's digits CNN and 60 training / 40 validation digits, with a 2 x 2 corner of each marked."""
    model = lumos.zoo.load("digits-cnn", progress=False)
    ds = lumos.zoo.dataset("digits")
    train = [img[..., None].astype(np.float32) for img in ds.train.images[:60]]
    val = [img[..., None].astype(np.float32) for img in ds.validation.images[:40]]
    region = [0, 1, 8, 9]
    return (model, simulate_annotator(train, ds.train.labels[:60], [region] * 60, fraction=0.5),
            Annotated(val, ds.validation.labels[:40], tuple((region,) * 40)))


def test_a_retrained_model_reloads_and_reproduces_its_metrics(digits, tmp_path):
    """Saved as safetensors + a card (parent, feedback ids, metrics before and after), the new version loads with
    lumos.load_model, has the saved weights' model id, and measures exactly what its card recorded; TensorBoard
    logs of the run are written."""
    model, train, validation = digits
    result = retrain(model, train, validation=validation, method="both", epochs=2, lam="auto", progress=False,
                     log_dir=tmp_path / "tb")
    assert result.lam > 0 and set(result.history[0]) >= {"loss", "cross_entropy", "rrr", "val/accuracy"}
    directory = result.save(tmp_path / "digits-v2")
    loaded = lumos.load_model(directory)
    assert loaded.model_id == result.adapter.model_id != model.model_id
    card = loaded.card
    assert card["parent"] == "digits-cnn" and card["parent_model_id"] == model.model_id
    assert card["metrics_before"] == result.before and card["metrics_after"] == result.after
    again = {"accuracy": measure(loaded, validation)["accuracy"],
             "marked_share": measure(loaded, Annotated([train.examples[i] for i in range(60) if train.irrelevant[i]],
                                                       [train.labels[i] for i in range(60) if train.irrelevant[i]],
                                                       [m for m in train.irrelevant if m]))["marked_share"]}
    assert again["accuracy"] == card["metrics_after"]["accuracy"]
    assert again["marked_share"] == pytest.approx(card["metrics_after"]["marked_share"], rel=1e-6)
    assert any((tmp_path / "tb").iterdir())
    explanation = lumos.Saliency(loaded).attribute(validation.examples[0])  # every method takes it
    assert explanation.model_id == loaded.model_id


def test_feedback_in_a_store_becomes_training_data(tmp_path):
    """Records on a model's inputs mark those examples (union of marks, label corrections applied); a record on an
    input outside the data is added; records on another model are ignored."""
    adapter = _tiny()
    rows = [np.array([i, 0, 0, 1], dtype=np.float32) for i in range(4)]
    store = FeedbackStore(tmp_path / "s.sqlite")
    store.register(adapter)
    store.register_model("sha256:other", name="other", class_names=["a", "b", "c"])

    def record(row, **fields):
        return Feedback(model_id=adapter.model_id, input_id=adapter.input_id(row), kind="table",
                        row=tuple(float(v) for v in row), features=("w", "x", "y", "z"), **fields)

    extra = np.array([9, 9, 9, 9], dtype=np.float32)
    ids = store.add_many([record(rows[1], marks={3: "irrelevant"}), record(rows[1], marks={0: "irrelevant"},
                                                                           label="c"),
                          record(extra, marks={2: "irrelevant"}), record(rows[2], rating=5)])
    store.add(Feedback(model_id="sha256:other", input_id="x", kind="table", row=(1.0,), features=("w",),
                       marks={0: "irrelevant"}))
    data = annotated_from_store(store, adapter, rows, [0, 1, 1, 0])
    assert data.irrelevant == ((), (0, 3), (), (), (2,)) and data.labels.tolist() == [0, 2, 1, 0, -1]
    assert data.feedback_ids == tuple(ids) and np.array_equal(data.examples[4], extra)
    with pytest.raises(InvalidArgumentError, match="holds no feedback on the model"):
        annotated_from_store(store, _tiny(seed=1), rows, [0, 1, 1, 0])


def test_the_simulated_annotator_marks_a_seeded_fraction_of_the_examples_with_regions():
    """It marks round(fraction x candidates) examples, only ones with a region, with exactly their region; the same
    seed picks the same examples, fraction 0 none and fraction 1 all."""
    regions = [[0, 1] if i % 2 else [] for i in range(40)]
    a = simulate_annotator(list(range(40)), [0] * 40, regions, fraction=0.25, seed=3)
    marked = [i for i, m in enumerate(a.irrelevant) if m]
    assert len(marked) == 5 and all(i % 2 and a.irrelevant[i] == (0, 1) for i in marked)
    assert a.irrelevant == simulate_annotator(list(range(40)), [0] * 40, regions, fraction=0.25, seed=3).irrelevant
    assert simulate_annotator(list(range(40)), [0] * 40, regions, fraction=0.0).n_annotated == 0
    assert simulate_annotator(list(range(40)), [0] * 40, regions, fraction=1.0).n_annotated == 20
    with pytest.raises(InvalidArgumentError, match="The 'fraction' parameter of simulate_annotator must be a number"):
        simulate_annotator([1], [0], [[0]], fraction=1.5)
