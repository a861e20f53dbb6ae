"""Errors: the class hierarchy, the validation helpers' messages, and clear errors from the public API."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import lumos
from lumos import (
    CallableAdapter,
    GradientXInput,
    IntegratedGradients,
    InvalidArgumentError,
    InvalidTypeError,
    LumosError,
    ModelLoadError,
    Saliency,
    SmoothGrad,
    UnknownNameError,
    UnsupportedModelError,
)
from lumos.errors import check_choice, check_float, check_int

LUMOS_DIR = Path(lumos.__file__).resolve().parent

def raised_in_lumos(excinfo: pytest.ExceptionInfo) -> bool:
    """Whether the exception was raised by lumos's own code (not from deep inside torch or transformers)."""
    return LUMOS_DIR in Path(str(excinfo.traceback[-1].path)).resolve().parents


# -- hierarchy ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, bases", [
    (InvalidArgumentError, (LumosError, ValueError)),
    (InvalidTypeError, (LumosError, TypeError)),
    (UnknownNameError, (InvalidArgumentError, ValueError, KeyError)),
    (ModelLoadError, (LumosError, OSError)),
    (UnsupportedModelError, (LumosError, TypeError)),
])
def test_error_classes_subclass_lumos_error_and_the_builtin(cls, bases):
    """Each lumos error is a LumosError and also the builtin a caller would naturally catch."""
    for base in bases:
        assert issubclass(cls, base)


def test_unknown_name_error_message_is_not_quoted():
    """UnknownNameError prints its message as is, not wrapped in quotes as KeyError would."""
    assert str(UnknownNameError("The 'x' parameter is bad.")) == "The 'x' parameter is bad."


# -- helpers --------------------------------------------------------------------------------------------
def test_check_int_message_names_argument_owner_bound_and_value():
    """check_int's message names the parameter, its owner, what is accepted and what came."""
    with pytest.raises(InvalidArgumentError) as excinfo:
        check_int(0, "n_steps", owner="IntegratedGradients", minimum=1)
    assert str(excinfo.value) == "The 'n_steps' parameter of IntegratedGradients must be an int >= 1. Got 0."


@pytest.mark.parametrize("value, error", [(True, InvalidTypeError), (2.0, InvalidTypeError), ("3", InvalidTypeError),
                                          (11, InvalidArgumentError), (-1, InvalidArgumentError)])
def test_check_int_rejects_wrong_types_and_out_of_range(value, error):
    """check_int refuses bools, floats and strings as types and out-of-range ints as values."""
    with pytest.raises(error, match=r"The 'k' parameter must be an int >= 0 and <= 10\. Got "):
        check_int(value, "k", minimum=0, maximum=10)


def test_check_int_returns_accepted_values():
    """check_int returns an accepted int unchanged, bounds included."""
    assert [check_int(v, "k", minimum=0, maximum=10) for v in (0, 10, np.int64(4).item())] == [0, 10, 4]


@pytest.mark.parametrize("value, error", [(0.0, InvalidArgumentError), (float("nan"), InvalidArgumentError),
                                          (1.5, InvalidArgumentError), (False, InvalidTypeError),
                                          ("0.5", InvalidTypeError)])
def test_check_float_rejects_bad_values(value, error):
    """check_float refuses nan, values outside the (exclusive) bounds, bools and strings."""
    with pytest.raises(error, match=r"The 'p' parameter of Thing must be a number > 0 and <= 1\.0\. Got "):
        check_float(value, "p", owner="Thing", minimum=0, maximum=1.0, exclusive_minimum=True)


def test_check_float_accepts_ints_as_floats():
    """check_float returns an accepted int as a float."""
    value = check_float(1, "p", minimum=0, maximum=1)
    assert value == 1.0 and isinstance(value, float)


def test_check_choice_lists_accepted_values():
    """check_choice's message lists every accepted value and the one received."""
    with pytest.raises(UnknownNameError,
                       match=re.escape("The 'kind' parameter of X must be one of 'a', 'b'. Got 'c'.")):
        check_choice("c", "kind", ("a", "b"), owner="X")
    assert check_choice("b", "kind", ("a", "b")) == "b"


# -- the public API -------------------------------------------------------------------------------------
def _black_box(texts):
    return np.tile([0.3, 0.7], (len(texts), 1))


API_ERRORS = [
    # (call on the zoo model, error class, message pattern)
    (lambda m: IntegratedGradients(m).attribute(""), InvalidArgumentError,
     r"The text in 'inputs' is empty: there is nothing to explain\. Got ''\."),
    (lambda m: Saliency(m).attribute("   "), InvalidArgumentError, r"The text in 'inputs' is empty"),
    (lambda m: Saliency(m).attribute(["fine", ""]), InvalidArgumentError, r"Text 1 in 'inputs' is empty"),
    (lambda m: Saliency(m).attribute([]), InvalidArgumentError,
     r"The 'inputs' parameter must hold at least one text\. Got an empty list\."),
    (lambda m: Saliency(m).attribute(42), InvalidTypeError,
     r"The 'inputs' parameter must be a str or a list of str\. Got int\."),
    (lambda m: Saliency(m).attribute(["fine", 3]), InvalidTypeError,
     r"The 'inputs' parameter must be a str or a list of str\. Item 1 is a int\."),
    (lambda m: lumos.get_method("nope"), UnknownNameError,
     r"The 'method' parameter must be one of .*'integrated_gradients'.*'saliency'.*\. Got 'nope'\."),
    (lambda m: IntegratedGradients(m, n_steps=2).attribute("late again", target=3), InvalidArgumentError,
     (r"The 'target' parameter of IntegratedGradients must be a class index in \[0, 2\] or one of "
      r"'negative', 'neutral', 'positive'\. Got 3\.")),
    (lambda m: Saliency(m).attribute("late again", target=-1), InvalidArgumentError,
     r"'target' parameter of Saliency must be a class index in \[0, 2\].* Got -1\."),
    (lambda m: Saliency(m).attribute("late again", target="angry"), InvalidArgumentError,
     (r"'target' parameter of Saliency must be a class index in \[0, 2\] or one of 'negative', 'neutral', "
      r"'positive'\. Got 'angry'\.")),
    (lambda m: Saliency(m).attribute("late again", target=True), InvalidArgumentError,
     r"'target' parameter of Saliency .* Got True\."),
    (lambda m: Saliency(m).attribute(["late", "again"], target=[0]), InvalidArgumentError,
     r"The 'target' parameter of Saliency must be one target or one per input \(2\)\. Got 1\."),
    (lambda m: lumos.load_model("/no/such/dir"), ModelLoadError,
     r"The 'model' argument '/no/such/dir' is neither a zoo model \('tweets-sentiment', .*'digits-cnn'.*\) nor a "
     r"directory holding a Hugging Face model or a compressed model \(lumos.compression.save\) or a retrained model "
     r"\(lumos.feedback.retrain\)\."),
    (lambda m: IntegratedGradients(m, n_steps=0), InvalidArgumentError,
     r"^The 'n_steps' parameter of IntegratedGradients must be an int >= 1 and <= 100000\. Got 0\.$"),
    (lambda m: IntegratedGradients(m, n_steps=2.5), InvalidTypeError,
     r"The 'n_steps' parameter of IntegratedGradients must be an int >= 1 and <= 100000\. Got 2\.5\."),
    (lambda m: IntegratedGradients(m, n_steps=1, method="riemann_trapezoid"), InvalidArgumentError,
     r"The 'n_steps' parameter of IntegratedGradients must be an int >= 2 with method='riemann_trapezoid'"),
    (lambda m: IntegratedGradients(m, method="simpson"), UnknownNameError,
     r"The 'method' parameter of IntegratedGradients must be one of 'gausslegendre', 'riemann_left'.* Got 'simpson'\."),
    (lambda m: IntegratedGradients(m, internal_batch_size=0), InvalidArgumentError,
     r"The 'internal_batch_size' parameter of IntegratedGradients must be an int >= 1\. Got 0\."),
    (lambda m: IntegratedGradients(m, baseline="blank"), UnknownNameError,
     r"The 'baseline' parameter of IntegratedGradients must be one of 'pad', 'mask', 'zero'\. Got 'blank'\."),
    (lambda m: GradientXInput(m, output="prob"), UnknownNameError,
     r"The 'output' parameter of GradientXInput must be one of 'logit', 'probability', 'log_probability', 'value'\. Got 'prob'\."),
    (lambda m: Saliency(m, batch_size=0), InvalidArgumentError,
     r"The 'batch_size' parameter of Saliency must be an int >= 1\. Got 0\."),
    (lambda m: SmoothGrad(m, n_samples=0), InvalidArgumentError,
     r"The 'n_samples' parameter of SmoothGrad must be an int >= 1 and <= 100000\. Got 0\."),
    (lambda m: SmoothGrad(m, noise_level=-0.1), InvalidArgumentError,
     r"The 'noise_level' parameter of SmoothGrad must be a number >= 0\.0\. Got -0\.1\."),
    (lambda m: SmoothGrad(m, kind="median"), UnknownNameError,
     r"The 'kind' parameter of SmoothGrad must be one of 'smoothgrad', 'smoothgrad_sq', 'vargrad'\."),
    (lambda m: SmoothGrad(m, seed=-1), InvalidArgumentError, r"The 'seed' parameter of SmoothGrad"),
    (lambda m: SmoothGrad(SmoothGrad(m)), InvalidTypeError,
     r"The 'method' parameter of SmoothGrad must be a gradient method other than SmoothGrad itself\."),
    (lambda m: IntegratedGradients(CallableAdapter(_black_box, class_names=["no", "yes"])), UnsupportedModelError,
     r"IntegratedGradients needs gradients, but the CallableAdapter for '_black_box' is not differentiable\."),
    pytest.param(lambda m: Saliency(lumos.as_adapter(_black_box, class_names=["no", "yes"])),
                 UnsupportedModelError, r"Saliency needs gradients"),
    (lambda m: lumos.zoo.load("nope"), UnknownNameError,
     r"The 'name' of a zoo model must be one of 'tweets-sentiment', .*'credit-scoring'.*\. Got 'nope'\."),
]


@pytest.mark.parametrize("call, error, pattern", API_ERRORS)
def test_public_api_raises_clear_lumos_errors(tweets_model, call, error, pattern):
    """Bad input to the public API raises the right LumosError, from lumos's own code, with a message
    naming the argument, what is accepted and what came."""
    with pytest.raises(error, match=pattern) as excinfo:
        call(tweets_model)
    assert isinstance(excinfo.value, LumosError)
    assert raised_in_lumos(excinfo)


def test_directory_without_config_is_a_model_load_error(tmp_path):
    """A directory without config.json is refused with a ModelLoadError that says what a model directory holds."""
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(ModelLoadError, match=r"neither a zoo model name nor a directory holding a Hugging Face "
                                             r"model \(config\.json, weights and tokenizer\)") as excinfo:
        lumos.load_model(tmp_path)
    assert raised_in_lumos(excinfo)


def test_broken_config_is_a_model_load_error_naming_the_directory(tmp_path):
    """A config.json transformers cannot read becomes a ModelLoadError naming the directory, chained to the cause."""
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match=re.escape(f"Could not load a sequence classifier from {str(tmp_path)!r}")
                       ) as excinfo:
        lumos.load_model(str(tmp_path))
    assert excinfo.value.__cause__ is not None
