"""input_id and weights_id: short, deterministic content hashes of inputs and model weights."""

from __future__ import annotations

import copy
import hashlib

import pytest
import torch

from lumos import InvalidTypeError
from lumos.identity import input_id, weights_id


def small_model() -> torch.nn.Module:
    """A seeded model with parameters and buffers (batch-norm running statistics)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))


def test_input_id_is_a_short_sha256_of_the_content():
    """input_id is "sha256:" and the first 16 hex digits of the SHA-256 of the bytes, for any bytes-like."""
    content = b"the flight was late"
    expected = "sha256:" + hashlib.sha256(content).hexdigest()[:16]
    assert input_id(content) == input_id(bytearray(content)) == input_id(memoryview(content)) == expected
    assert input_id(b"the flight was late!") != expected


def test_input_id_refuses_text():
    """input_id takes bytes: a str is refused (its encoding is the caller's choice), naming the parameter."""
    with pytest.raises(InvalidTypeError, match="'content' parameter of input_id must be bytes.*Got str"):
        input_id("the flight was late")  # type: ignore[arg-type]


def test_weights_id_ignores_copies_and_follows_every_weight():
    """A copy, its state dict and a rebuilt model share the id; changing any one weight or buffer changes it."""
    model = small_model()
    ident = weights_id(model)
    assert ident.startswith("sha256:") and len(ident) == len("sha256:") + 16
    rebuilt = small_model()
    assert weights_id(copy.deepcopy(model)) == weights_id(model.state_dict()) == weights_id(rebuilt) == ident
    assert weights_id(model.eval()) == ident
    with torch.no_grad():
        rebuilt[2].weight[1, 3] += 1e-6
    assert weights_id(rebuilt) != ident
    other = small_model()
    other[1].running_mean[0] = 0.5
    assert weights_id(other) != ident


def test_weights_id_covers_names_dtypes_and_shapes():
    """The same bytes under another name, dtype or shape give another id."""
    data = torch.arange(6, dtype=torch.int32)
    ids = {weights_id({"a": data}), weights_id({"b": data}), weights_id({"a": data.view(torch.float32)}),
           weights_id({"a": data.reshape(2, 3)}), weights_id({"a": data[:3], "b": data[3:]})}
    assert len(ids) == 5
    assert weights_id({"a": data, "b": data[:2]}) == weights_id({"b": data[:2].clone(), "a": data.clone()})


def test_weights_id_hashes_any_dense_dtype():
    """bfloat16, bool and empty tensors (no numpy equivalent for the first) hash without error."""
    state = {"w": torch.ones(2, 2, dtype=torch.bfloat16), "m": torch.tensor([True, False]), "e": torch.zeros(0)}
    assert weights_id(state) == weights_id({k: v.clone() for k, v in state.items()})
    assert weights_id(state) != weights_id({**state, "w": state["w"].float()})


def test_weights_id_refuses_what_is_not_weights():
    """A non-module, non-mapping argument and a state entry that is not a dense tensor are refused by name."""
    with pytest.raises(InvalidTypeError, match="'module_or_state' parameter of weights_id .* Got list"):
        weights_id([torch.zeros(1)])  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError, match="the state entry 'extra' is float"):
        weights_id({"w": torch.zeros(1), "extra": 1.0})
    with pytest.raises(InvalidTypeError, match="the state entry 's' is torch.sparse_coo"):
        weights_id({"s": torch.zeros(2, 2).to_sparse()})


def test_explanations_carry_the_model_and_input_ids():
    """Every method's explanation names the weights it explains and the input's content; a cloned adapter
    whose weights change gets a new model id, the same input the same input id."""
    import numpy as np
    import torch

    import lumos
    from lumos.models import TabularTorchAdapter, clone_adapter

    torch.manual_seed(0)
    adapter = TabularTorchAdapter(torch.nn.Linear(4, 2), class_names=["a", "b"], background=np.zeros((1, 4)))
    x = np.array([1.0, 2.0, 3.0, 4.0])
    saliency = lumos.Saliency(adapter).attribute(x)
    occlusion = lumos.Occlusion(adapter).attribute(x)
    assert saliency.model_id == occlusion.model_id == adapter.model_id
    assert saliency.model_id.startswith("sha256:")
    assert saliency.input_id == occlusion.input_id == adapter.input_id(np.float32(x))
    assert lumos.Saliency(adapter).attribute(x + 1).input_id != saliency.input_id
    changed = clone_adapter(adapter, owner="test")
    with torch.no_grad():
        changed.module.weight[0, 0] += 1.0
    assert changed.model_id != adapter.model_id
    assert lumos.Explanation.from_json(saliency.to_json()) == saliency


def test_weights_id_of_an_int8_model():
    """An int8 (dynamically quantized) model has an identity too: its integer weights, scales and packed
    biases are hashed, so changing one quantized weight changes it and a copy keeps it."""
    import copy

    torch.manual_seed(0)
    model = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(4, 3)), {torch.nn.Linear},
                                                   dtype=torch.qint8)
    before = weights_id(model)
    assert before == weights_id(copy.deepcopy(model))
    weight, bias = model[0]._packed_params._weight_bias()
    changed = torch.quantize_per_tensor(weight.dequantize() + 0.5, weight.q_scale(), weight.q_zero_point(),
                                        torch.qint8)
    model[0].set_weight_bias(changed, bias)
    assert weights_id(model) != before


def test_changed_models_get_new_ids():
    """A compressed copy carries the id of its own weights; the original keeps its id."""
    import numpy as np
    import torch

    import lumos
    from lumos.models import TabularTorchAdapter

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    adapter = TabularTorchAdapter(net, class_names=["a", "b"], background=np.zeros((1, 4)))
    original = adapter.model_id
    pruned = lumos.compression.prune_magnitude(adapter, 0.5)
    assert pruned.model_id != original and adapter.model_id == original
    assert pruned.model_id == weights_id(pruned.module)
