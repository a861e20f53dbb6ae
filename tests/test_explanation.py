"""Explanation and ExplanationSet: immutability, validation, views, equality and lossless JSON."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from lumos import Cost, Explanation, ExplanationSet, InvalidArgumentError, InvalidTypeError


def make(values=(0.1 + 0.2, -1 / 3, 2.5e-17, 7.0), **changes) -> Explanation:
    """An explanation of 'unbelievably bad @JetBlue' split into word pieces, with awkward floats."""
    fields = {
        "values": np.array(values), "features": ("un", "##believably", "bad", "@jetblue"), "target": 0,
        "prediction": np.array([0.7, 0.2, 0.1]), "class_names": ("negative", "neutral", "positive"),
        "method": "integrated_gradients",
        "params": {"n_steps": 64, "method": "gausslegendre", "output": "logit"},
        "output_value": 1.2345678901234567, "base_value": -0.1, "convergence_delta": 1e-9,
        "stderr": np.array([0.01, 0.02, 0.03, 0.04]), "cost": Cost(n_evals=66, seconds=0.125),
        "text": "unbelievably bad @JetBlue", "words": ("unbelievably", "bad", "@JetBlue"),
        "word_index": (0, 0, 1, 2),
    }
    fields.update(changes)
    return Explanation(**fields)


# -- immutability -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["values", "prediction", "stderr"])
def test_arrays_are_read_only(name):
    """The arrays of an Explanation cannot be written in place."""
    array = getattr(make(), name)
    with pytest.raises(ValueError, match="read-only"):
        array[0] = 42.0


def test_fields_cannot_be_reassigned():
    """An Explanation is a frozen dataclass: assigning a field raises."""
    e = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.target = 1  # type: ignore[misc]


def test_arrays_are_private_copies():
    """Changing the array an Explanation was built from does not change the Explanation."""
    source = np.array([1.0, 2.0, 3.0, 4.0])
    e = make(values=source)
    source[0] = -100.0
    assert e.values[0] == 1.0


def test_params_are_a_private_copy():
    """Changing the params dict an Explanation was built from does not change the Explanation."""
    params = {"n_steps": 8}
    e = make(params=params)
    params["n_steps"] = 99
    assert e.params == {"n_steps": 8}


def test_with_values_returns_a_new_validated_copy():
    """with_values changes a copy, leaves the original alone and validates the copy."""
    e = make()
    f = e.with_values(target=2)
    assert (e.target, f.target, f.target_label) == (0, 2, "positive")
    with pytest.raises(InvalidArgumentError, match=r"'target' of an Explanation must be in \[0, 2\]\. Got 3\."):
        e.with_values(target=3)


# -- validation -----------------------------------------------------------------------------------------
def test_values_must_match_features():
    """Values of the wrong length are refused with a message giving the expected shape."""
    with pytest.raises(InvalidArgumentError, match=r"must have shape \(n_features,\) = \(4,\)\. Got \(3,\)\."):
        make(values=[1.0, 2.0, 3.0])


def test_values_must_be_one_dimensional():
    """A 2-D values array without 'targets' (labels of its rows) is refused."""
    with pytest.raises(InvalidArgumentError, match=r"Got \(4, 1\)\."):
        make(values=np.zeros((4, 1)))


def test_word_index_needs_one_entry_per_feature():
    """A word_index shorter than the features is refused."""
    with pytest.raises(InvalidArgumentError, match="'word_index' of an Explanation must have one entry per feature"):
        make(word_index=(0, 1, 2))


# -- views ----------------------------------------------------------------------------------------------
def test_by_word_sums_the_pieces_of_each_word():
    """by_word adds the values of the pieces of a word (here 'un' + '##believably')."""
    e = make(values=[1.5, 0.25, -2.0, 4.0])
    words, totals = e.by_word()
    assert words == ("unbelievably", "bad", "@JetBlue")
    np.testing.assert_array_equal(totals, [1.75, -2.0, 4.0])


def test_by_word_without_words_returns_features():
    """Without word information by_word returns the features and a writable copy of the values."""
    e = make(words=None, word_index=None)
    words, totals = e.by_word()
    assert words == e.features
    np.testing.assert_array_equal(totals, e.values)
    totals[0] = 99.0
    assert e.values[0] != 99.0


def test_top_orders_by_absolute_value():
    """top(k) gives the k features with the largest |value|, largest first."""
    e = make(values=[0.5, -3.0, 2.0, 0.0])
    assert e.top(2) == [("##believably", -3.0), ("bad", 2.0)]


def test_labels_of_target_and_prediction():
    """target_label names the explained class; predicted is the argmax of the prediction."""
    e = make(target=2, prediction=[0.1, 0.6, 0.3])
    assert (e.target_label, e.predicted, e.predicted_label) == ("positive", 1, "neutral")


# -- equality -------------------------------------------------------------------------------------------
def test_equality_compares_every_field():
    """Two explanations are equal only when every field, arrays included, is equal."""
    assert make() == make()
    assert make() != make(values=[0.1 + 0.2, -1 / 3, 2.5e-17, 7.000000000000001])
    assert make() != make(stderr=None)
    assert make() != make(cost=Cost(n_evals=67, seconds=0.125))


def test_explanation_is_not_hashable():
    """Explanations hold arrays and refuse to be hashed."""
    with pytest.raises(TypeError):
        hash(make())


# -- JSON -----------------------------------------------------------------------------------------------
def test_json_round_trip_is_exact():
    """to_json / from_json give back an equal Explanation, floats to the last bit."""
    e = make()
    back = Explanation.from_json(e.to_json())
    assert back == e
    assert back.values.tolist() == [0.1 + 0.2, -1 / 3, 2.5e-17, 7.0]
    assert back.output_value == 1.2345678901234567
    assert back.cost == Cost(n_evals=66, seconds=0.125)
    assert not back.values.flags.writeable


def test_json_round_trip_through_a_file(tmp_path):
    """An Explanation written to a file (path as Path or str) reads back equal."""
    e = make(stderr=None, base_value=None, convergence_delta=None, words=None, word_index=None, text=None)
    path = tmp_path / "e.json"
    text = e.to_json(path, indent=2)
    assert path.read_text(encoding="utf-8") == text
    assert Explanation.from_json(path) == e
    assert Explanation.from_json(str(path)) == e


def test_json_is_plain_and_tagged():
    """The JSON is a plain object tagged with its format, arrays written as lists."""
    data = json.loads(make().to_json())
    assert data["format"] == "lumos.explanation/2"
    assert data["features"] == ["un", "##believably", "bad", "@jetblue"]
    assert data["cost"] == {"n_evals": 66, "seconds": 0.125}


def test_from_dict_refuses_other_formats():
    """from_dict refuses a dictionary not written by to_dict, naming the expected format."""
    data = make().to_dict()
    data["format"] = "something/2"
    with pytest.raises(InvalidArgumentError, match=r"format 'lumos\.explanation/1'\)\. Got format 'something/2'"):
        Explanation.from_dict(data)


def test_from_json_of_a_missing_file_names_the_path(tmp_path):
    """from_json with a path that does not exist says so, naming the path."""
    missing = tmp_path / "nope.json"
    with pytest.raises(InvalidArgumentError, match="No file at"):
        Explanation.from_json(missing)


# -- ExplanationSet -------------------------------------------------------------------------------------
def test_set_holds_explanations_only():
    """ExplanationSet refuses items that are not Explanations, naming the item's position and type."""
    with pytest.raises(InvalidTypeError, match=r"ExplanationSet holds Explanation objects only\. Item 1 is a str\."):
        ExplanationSet([make(), "not an explanation"])


def test_set_is_an_immutable_sequence():
    """An ExplanationSet indexes, slices into an ExplanationSet and refuses item assignment."""
    a, b, c = make(), make(target=1), make(target=2)
    s = ExplanationSet([a, b, c])
    assert len(s) == 3 and s[1] == b and list(s) == [a, b, c]
    assert isinstance(s[1:], ExplanationSet) and s[1:] == ExplanationSet([b, c])
    with pytest.raises(TypeError):
        s[0] = c  # type: ignore[index]


def test_set_cost_is_the_total():
    """The cost of a set adds the evaluations and seconds of its explanations."""
    s = ExplanationSet([make(cost=Cost(10, 0.5)), make(cost=Cost(5, 0.25))])
    assert s.cost == Cost(15, 0.75)


def test_set_json_round_trip(tmp_path):
    """An ExplanationSet round-trips through JSON text and through a file, exactly."""
    s = ExplanationSet([make(), make(target=1, values=[1e-300, -0.0, 3.0, 1 / 7], stderr=None)])
    assert ExplanationSet.from_json(s.to_json()) == s
    path = tmp_path / "set.json"
    s.to_json(path)
    assert ExplanationSet.from_json(path) == s


def test_set_from_json_refuses_a_single_explanation():
    """ExplanationSet.from_json refuses the JSON of one Explanation."""
    with pytest.raises(InvalidArgumentError, match="expects JSON written by ExplanationSet.to_json"):
        ExplanationSet.from_json(make().to_json())
