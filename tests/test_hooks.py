"""No method leaves anything behind on the model: no hook, no gradient, no change of mode, whether it returned
or raised."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.modules import module as torch_module

from lumos import GradientXInput, IntegratedGradients, InvalidArgumentError, Saliency, SmoothGrad, TorchAdapter

METHODS = {
    "saliency": lambda m: Saliency(m),
    "gradient_x_input": lambda m: GradientXInput(m),
    "integrated_gradients": lambda m: IntegratedGradients(m, n_steps=3),
    "smoothgrad": lambda m: SmoothGrad(IntegratedGradients(m, n_steps=2), n_samples=2),
}


def hook_counts(model: nn.Module) -> dict[tuple[str, str], int]:
    """The number of entries in every hook registry that could touch ``model``: each submodule's hook dicts
    (forward, forward-pre, backward, backward-pre, state-dict, ...), each parameter's tensor hooks, and torch's
    global module hooks."""
    counts: dict[tuple[str, str], int] = {}
    for name, sub in model.named_modules():
        for attr, value in vars(sub).items():
            if "hook" in attr and isinstance(value, dict):
                counts[(name, attr)] = len(value)
    for name, p in model.named_parameters():
        for attr in ("_backward_hooks", "_post_accumulate_grad_hooks"):
            counts[(name, attr)] = len(getattr(p, attr, None) or {})
    for attr in dir(torch_module):
        value = getattr(torch_module, attr)
        if attr.startswith("_global") and "hook" in attr and isinstance(value, dict):
            counts[("<global>", attr)] = len(value)
    return counts


def model_state(model: nn.Module) -> tuple:
    """Mode, requires_grad flags and accumulated gradients of a model's parameters."""
    return (model.training, tuple(p.requires_grad for p in model.parameters()),
            tuple(p.grad is None for p in model.parameters()))


def test_hook_counter_sees_hooks():
    """The counter used below notices a forward hook, a backward hook and a global hook (it can fail)."""
    model = nn.Sequential(nn.Linear(2, 2))
    before = hook_counts(model)
    handles = [model[0].register_forward_hook(lambda *a: None),
               model[0].register_full_backward_hook(lambda *a: None),
               torch_module.register_module_forward_pre_hook(lambda *a: None)]
    try:
        during = hook_counts(model)
        changed = {k for k in during if during[k] != before.get(k)}
        assert {("0", "_forward_hooks"), ("0", "_backward_hooks"), ("<global>", "_global_forward_pre_hooks")} <= changed
    finally:
        for h in handles:
            h.remove()
    assert hook_counts(model) == before


@pytest.mark.parametrize("name", list(METHODS))
def test_no_hook_survives_a_method_that_returns(tweets_model, name):
    """After a method explains texts, the zoo model has exactly the hooks and state it had before."""
    before, state = hook_counts(tweets_model.model), model_state(tweets_model.model)
    METHODS[name](tweets_model).attribute(["late again", "@united thanks for the great flight"])
    assert hook_counts(tweets_model.model) == before
    assert model_state(tweets_model.model) == state


@pytest.mark.parametrize("name", list(METHODS))
def test_no_hook_survives_a_method_that_raises(tweets_model, name):
    """After a method raises on a bad target in a list, the zoo model has exactly the hooks it had before."""
    before, state = hook_counts(tweets_model.model), model_state(tweets_model.model)
    with pytest.raises(InvalidArgumentError, match="Got 'angry'"):
        METHODS[name](tweets_model).attribute(["late again", "great flight"], target=[0, "angry"])
    assert hook_counts(tweets_model.model) == before
    assert model_state(tweets_model.model) == state


class FailsOnCall(nn.Module):
    """A small classifier whose forward raises on its n-th call, to interrupt a method mid-computation."""

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.layer = nn.Linear(3, 2)
        self.calls, self.fail_on = 0, fail_on

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("the model failed")
        return self.layer(x)


@pytest.mark.parametrize("name", list(METHODS))
def test_no_hook_survives_a_model_that_fails_mid_computation(name):
    """When the model itself raises during the gradient pass, the error propagates and no hook or gradient is
    left behind."""
    module = FailsOnCall(fail_on=2).eval()  # call 1 is the forward at the ends, call 2 the first gradient pass
    before, state = hook_counts(module), model_state(module)
    with pytest.raises(RuntimeError, match="the model failed"):
        METHODS[name](TorchAdapter(module, class_names=["a", "b"])).attribute(np.ones((2, 3), dtype=np.float32))
    assert module.calls == 2
    assert hook_counts(module) == before
    assert model_state(module) == state
