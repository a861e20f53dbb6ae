"""Explanation and ExplanationSet: immutability, validation, views, equality and lossless JSON."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from lumos import Cost, Explanation, ExplanationSet, Grid, InvalidArgumentError, InvalidTypeError


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


# -- format 1 (files written by lumos 0.1) --------------------------------------------------------------
DATA = Path(__file__).parent / "data"
V1_FIELDS = ("values", "features", "target", "prediction", "class_names", "method", "params", "output",
             "output_value", "base_value", "convergence_delta", "stderr", "diagnostics", "cost", "text", "words",
             "word_index")


def to_dict_v1(e: Explanation) -> dict:
    """The format-1 writer of lumos 0.1, kept to measure today's JSON size honestly (same content)."""
    out = {"format": "lumos.explanation/1"}
    for name in V1_FIELDS:
        value = getattr(e, name)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, Cost):
            value = {"n_evals": value.n_evals, "seconds": value.seconds}
        elif isinstance(value, (tuple, Grid)):
            value = list(value)
        out[name] = value
    return out


def text_v1() -> Explanation:
    """The text explanation of the committed format-1 fixtures (a NaN value, words, stderr, diagnostics)."""
    return Explanation(
        values=np.array([0.1 + 0.2, -1 / 3, float("nan"), 7.0]), features=("un", "##believably", "bad", "@jetblue"),
        target=0, prediction=np.array([0.7, 0.2, 0.1]), class_names=("negative", "neutral", "positive"),
        method="integrated_gradients", params={"n_steps": 64, "method": "gausslegendre", "output": "logit"},
        output_value=1.2345678901234567, base_value=-0.1, convergence_delta=1e-9,
        stderr=np.array([0.01, 0.02, 0.03, 0.04]), diagnostics={"r2": 0.875}, cost=Cost(n_evals=66, seconds=0.125),
        text="unbelievably bad @JetBlue", words=("unbelievably", "bad", "@JetBlue"), word_index=(0, 0, 1, 2))


def image_v1() -> Explanation:
    """The 3 x 4 pixel explanation of the committed format-1 fixtures, with one "r,c" label per pixel."""
    h, w = 3, 4
    values = np.arange(h * w, dtype=np.float32) / np.float32(7)
    return Explanation(
        values=values.astype(np.float64), features=tuple(f"{r},{c}" for r in range(h) for c in range(w)), target=1,
        prediction=np.array([0.25, 0.5, 0.25], dtype=np.float32), class_names=("cat", "dog", "fox"),
        method="saliency", params={"output": "logit"}, output_value=3.5, cost=Cost(n_evals=1, seconds=0.01))


def test_format_1_writer_of_the_tests_is_the_one_that_wrote_the_fixtures():
    """The test's format-1 writer reproduces the committed fixtures byte for byte (so sizes compare honestly)."""
    assert json.dumps(to_dict_v1(text_v1()), indent=1) == (DATA / "explanation_v1_text.json").read_text()
    assert json.dumps(to_dict_v1(image_v1())) == (DATA / "explanation_v1_image.json").read_text()


@pytest.mark.parametrize("name, build", [("text", text_v1), ("image", image_v1)])
def test_format_1_files_load_into_equal_explanations(name, build):
    """A format-1 file written today reads back into an Explanation equal to the one that wrote it."""
    back = Explanation.from_json(DATA / f"explanation_v1_{name}.json")
    assert back == build()
    assert (back.axes, back.targets, back.model_id, back.input_id) == (("features",), None, None, None)


def test_format_1_pixel_labels_are_read_as_a_grid():
    """The "r,c" labels of a format-1 image explanation become a Grid, so writing it again is compact."""
    back = Explanation.from_json(DATA / "explanation_v1_image.json")
    assert isinstance(back.features, Grid) and back.features == Grid(3, 4)
    assert json.loads(back.to_json())["features"] == {"grid": [3, 4]}
    text = Explanation.from_json(DATA / "explanation_v1_text.json")
    assert text.features == ("un", "##believably", "bad", "@jetblue") and isinstance(text.features, tuple)


def test_format_1_set_loads_into_an_equal_set():
    """A format-1 ExplanationSet file reads back equal, and rewrites as format 2 that reads back equal."""
    s = ExplanationSet.from_json(DATA / "explanation_set_v1.json")
    assert s == ExplanationSet([text_v1(), image_v1()])
    assert json.loads(s.to_json())["format"] == "lumos.explanation_set/2"
    assert ExplanationSet.from_json(s.to_json()) == s


# -- Grid -----------------------------------------------------------------------------------------------
def test_grid_reads_as_its_pixel_labels():
    """A Grid has the length, items, slices, membership and order of its "row,col" labels."""
    g = Grid(2, 3)
    labels = ("0,0", "0,1", "0,2", "1,0", "1,1", "1,2")
    assert len(g) == 6 and tuple(g) == labels and list(reversed(g)) == list(reversed(labels))
    assert (g[0], g[4], g[-1], g[1:5:2]) == ("0,0", "1,1", "1,2", ("0,1", "1,0"))
    assert "1,2" in g and "2,0" not in g and "0,3" not in g and "01,1" not in g and 5 not in g
    assert g.index("1,0") == 3 and g.shape == (2, 3)
    with pytest.raises(ValueError):
        g.index("2,2")
    with pytest.raises(IndexError):
        g[6]


def test_grid_equals_the_tuple_of_its_labels():
    """A Grid equals (and hashes like) the tuple of its labels, and equals Grids of its shape only."""
    g = Grid(2, 3)
    labels = tuple(g)
    assert g == labels and labels == g and not g != labels and hash(g) == hash(labels)
    assert g == Grid(2, 3) and g != Grid(3, 2) and g != labels[:-1] and g != list(labels)
    assert Grid(1, 6) != g and tuple(Grid(1, 6)) != labels


@pytest.mark.parametrize("height, width, error", [(0, 3, InvalidArgumentError), (2, -1, InvalidArgumentError),
                                                   (2.0, 3, InvalidTypeError), (True, 3, InvalidTypeError)])
def test_grid_refuses_bad_sizes(height, width, error):
    """Grid sizes must be ints >= 1; the message names the size."""
    with pytest.raises(error, match="'(height|width)' parameter of Grid must be an int >= 1"):
        Grid(height, width)


def test_grid_from_labels_recognises_full_grids_only():
    """Grid.from_labels finds the grid of complete raster "r,c" labels and None for anything else."""
    assert Grid.from_labels(tuple(Grid(3, 2))) == Grid(3, 2)
    assert Grid.from_labels(("0,0", "0,1", "1,1")) is None
    assert Grid.from_labels(("0,1", "0,0")) is None
    assert Grid.from_labels(("a", "b")) is None and Grid.from_labels(()) is None


def test_explanation_over_a_grid():
    """An explanation whose features are a Grid equals one with the same labels and writes the grid only."""
    labelled = image_v1()
    gridded = labelled.with_values(features=Grid(3, 4))
    assert isinstance(gridded.features, Grid) and gridded == labelled
    assert gridded.top(1) == [("2,3", pytest.approx(11 / 7))]
    data = json.loads(gridded.to_json())
    assert data["features"] == {"grid": [3, 4]}
    back = Explanation.from_json(gridded.to_json())
    assert back == gridded and isinstance(back.features, Grid)


def test_pixel_map_reads_the_grid_and_the_labels():
    """pixel_map shapes the values by the Grid, and still by "r,c" labels for explanations built with them."""
    from lumos.models.vision import pixel_map

    expected = np.arange(12, dtype=np.float32).reshape(3, 4) / np.float32(7)
    np.testing.assert_array_equal(pixel_map(image_v1().with_values(features=Grid(3, 4))), expected)
    np.testing.assert_array_equal(pixel_map(image_v1()), expected)
    with pytest.raises(InvalidArgumentError, match="features are pixels"):
        pixel_map(make())


# -- targets x features ----------------------------------------------------------------------------------
def make_2d(**changes) -> Explanation:
    """Two explained targets (rows) over the four word pieces of make()."""
    values = np.array([[1.5, 0.25, -2.0, 4.0], [0.0, -1.0, 3.0, 0.5]])
    fields = {"values": values, "targets": ("late", "again"), "stderr": values / 10}
    fields.update(changes)
    return make(**fields)


def test_axes_default_from_the_values():
    """axes is ("features",) for 1-D values and ("targets", "features") for 2-D values with targets."""
    assert make().axes == ("features",) and make().targets is None
    e = make_2d()
    assert e.axes == ("targets", "features") and e.targets == ("late", "again") and e.values.shape == (2, 4)


def test_targets_must_label_every_row():
    """2-D values need one target label per row; targets with 1-D values, other axes and 3-D are refused."""
    with pytest.raises(InvalidArgumentError, match=r"\(n_targets, n_features\) = \(3, 4\)\. Got \(2, 4\)\."):
        make_2d(targets=("a", "b", "c"))
    with pytest.raises(InvalidArgumentError, match=r"= \(1, 4\)\. Got \(4,\)\."):
        make(targets=("a",))
    with pytest.raises(InvalidArgumentError, match=r"'axes' of an Explanation with 2-D values must be "
                                                   r"\('targets', 'features'\)\. Got \('features', 'targets'\)\."):
        make_2d(axes=("features", "targets"))
    with pytest.raises(InvalidArgumentError, match=r"must have shape \(n_features,\) = \(4,\)\. Got \(1, 2, 4\)\."):
        make(values=np.zeros((1, 2, 4)), stderr=None)


def test_stderr_must_match_the_values():
    """A stderr of another shape than the values is refused, naming both shapes."""
    with pytest.raises(InvalidArgumentError, match=r"'stderr' .* shape of its values, \(4,\)\. Got \(3,\)\."):
        make(stderr=[0.1, 0.2, 0.3])
    with pytest.raises(InvalidArgumentError, match=r"shape of its values, \(2, 4\)\. Got \(4,\)\."):
        make_2d(stderr=[0.1, 0.2, 0.3, 0.4])


def test_by_word_of_2d_values_sums_each_row():
    """For 2-D values by_word sums the pieces of each word in each target's row, as row(i).by_word() does."""
    e = make_2d()
    words, totals = e.by_word()
    assert words == ("unbelievably", "bad", "@JetBlue") and totals.shape == (2, 3)
    np.testing.assert_array_equal(totals, [[1.75, -2.0, 4.0], [-1.0, 3.0, 0.5]])
    for i in range(2):
        np.testing.assert_array_equal(totals[i], e.row(i).by_word()[1])


def test_top_of_2d_values_asks_for_a_row():
    """top ranks one target's features: on 2-D values it raises, pointing to row(i).top(k)."""
    with pytest.raises(InvalidArgumentError, match=r"2 targets \('late', 'again'\)\. Use explanation\.row\(i\)\.top"):
        make_2d().top()
    assert make_2d().row("again").top(2) == [("bad", 3.0), ("##believably", -1.0)]


def test_row_is_the_1d_explanation_of_one_target():
    """row(i) (by position or label) keeps everything but the other rows; it refuses 1-D values and bad rows."""
    e = make_2d()
    r = e.row(1)
    assert r == e.row("again") == e.row(-1)
    assert r.axes == ("features",) and r.targets is None and r.values.tolist() == [0.0, -1.0, 3.0, 0.5]
    np.testing.assert_array_equal(r.stderr, e.stderr[1])
    assert (r.method, r.target, r.words, r.features) == (e.method, e.target, e.words, e.features)
    with pytest.raises(InvalidArgumentError, match="needs an explanation with 'targets'"):
        make().row(0)
    with pytest.raises(InvalidArgumentError, match="one of its targets"):
        e.row("never")
    with pytest.raises(InvalidArgumentError, match=r"'target' parameter of Explanation\.row must be an int"):
        e.row(2)


def test_repr_of_2d_values():
    """The repr of a 2-D explanation gives its numbers of targets and features."""
    assert "n_targets=2, n_features=4" in repr(make_2d())


# -- identity -------------------------------------------------------------------------------------------
def test_model_and_input_ids_are_kept_and_written():
    """model_id and input_id are optional strings that round-trip; other types are refused."""
    e = make(model_id="sha256:0123456789abcdef", input_id="sha256:fedcba9876543210")
    assert make().model_id is None and make().input_id is None
    back = Explanation.from_json(e.to_json())
    assert back == e and back.model_id == "sha256:0123456789abcdef" and back != make()
    with pytest.raises(InvalidTypeError, match="'model_id' of an Explanation must be a str or None. Got int."):
        make(model_id=3)


# -- format 2 -------------------------------------------------------------------------------------------
def big_image(n: int = 32, **changes) -> Explanation:
    """A pixel explanation over an n x n Grid with float32-derived values and a 1,000-way prediction."""
    rng = np.random.default_rng(0)
    prediction = rng.dirichlet(np.ones(1000)).astype(np.float32)
    fields = {"values": np.abs(rng.normal(size=n * n)).astype(np.float32), "features": Grid(n, n), "target": 7,
              "prediction": prediction, "class_names": tuple(f"class {i}" for i in range(1000)),
              "method": "saliency", "params": {"output": "logit"}, "output_value": 2.5}
    fields.update(changes)
    return Explanation(**fields)


@pytest.mark.parametrize("build", [
    make, lambda: make(stderr=None), make_2d, lambda: make_2d(stderr=None), text_v1, big_image,
    lambda: big_image(values=np.random.default_rng(1).normal(size=32 * 32)),  # float64 values
    lambda: big_image(values=np.r_[np.nan, -0.0, np.inf, -np.inf, 1e-300, np.zeros(32 * 32 - 5)],
                      stderr=np.full(32 * 32, np.nan)),
    lambda: make_2d(values=np.arange(600.0).reshape(2, 300) / 7, stderr=None, features=Grid(20, 15),
                    words=None, word_index=None),
], ids=["text", "text-no-stderr", "2d", "2d-no-stderr", "nan", "grid-float32", "grid-float64", "specials", "2d-grid"])
def test_format_2_round_trip_is_exact(build):
    """Every kind of explanation reads back from format-2 JSON equal, each array to the last bit."""
    e = build()
    back = Explanation.from_json(e.to_json())
    assert back == e and type(back.features) is type(e.features)
    for name in ("values", "prediction", "stderr"):
        a, b = getattr(e, name), getattr(back, name)
        assert (a is None and b is None) or (a.view(np.uint64).tolist() == b.view(np.uint64).tolist()
                                             and b.dtype == np.float64 and not b.flags.writeable)


def test_format_2_arrays_are_lists_when_small_and_bytes_when_large():
    """Small finite arrays stay JSON lists; large ones are base64 of float32 bytes when float32 is exact."""
    data = json.loads(big_image().to_json())
    assert data["values"]["dtype"] == "float32" and data["values"]["shape"] == [1024]
    assert data["values"]["codec"] in ("raw", "shuffle-zlib") and data["prediction"]["dtype"] == "float32"
    assert json.loads(make().to_json())["values"] == [0.1 + 0.2, -1 / 3, 2.5e-17, 7.0]
    assert json.loads(text_v1().to_json())["values"]["dtype"] == "float64"  # NaN: not a plain list
    rough = json.loads(big_image(values=np.full(1024, 1 / 3)).to_json())["values"]
    assert rough["dtype"] == "float64" and rough["codec"] == "shuffle-zlib"


@pytest.mark.parametrize("value, match", [
    ({"dtype": "int8", "shape": [1], "codec": "raw", "data": ""}, "'dtype'"),
    ({"dtype": "float32", "shape": [3], "codec": "raw", "data": "AAAAAA=="}, "holds 4 bytes; its shape .3. and "
                                                                          "dtype float32 need 12"),
    ({"dtype": "float32", "shape": [1], "codec": "shuffle-zlib", "data": "AAAAAA=="}, "does not decode"),
    ("not an array", "must be a list of numbers or an object"),
])
def test_format_2_refuses_broken_arrays(value, match):
    """A malformed array in format-2 JSON is refused with a message naming the field and what is accepted."""
    data = make().to_dict()
    data["values"] = value
    with pytest.raises(InvalidArgumentError, match=match):
        Explanation.from_dict(data)


def test_writes_are_atomic(tmp_path, monkeypatch):
    """A file is replaced whole: a failed write leaves the old file and no temporary file behind."""
    path = tmp_path / "e.json"
    make().to_json(path)
    before = path.read_text(encoding="utf-8")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("lumos.engine.files.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        make(target=2).to_json(path)
    with pytest.raises(OSError, match="disk full"):
        ExplanationSet([make()]).to_json(path)
    assert path.read_text(encoding="utf-8") == before and sorted(tmp_path.iterdir()) == [path]


def test_set_writes_each_list_of_class_names_once():
    """An ExplanationSet stores each distinct list of class names once and reads every explanation back whole."""
    s = ExplanationSet([big_image(), big_image(target=3), make(), big_image(class_names=[f"c{i}" for i in range(1000)])])
    data = json.loads(s.to_json())
    assert data["format"] == "lumos.explanation_set/2" and len(data["class_names"]) == 3
    assert [d["class_names"] for d in data["explanations"]] == [{"ref": 0}, {"ref": 0}, {"ref": 1}, {"ref": 2}]
    assert ExplanationSet.from_json(s.to_json()) == s
    data["explanations"][1]["class_names"] = {"ref": 5}
    with pytest.raises(InvalidArgumentError, match=r"Explanation 1 of the set refers to class names"):
        ExplanationSet.from_json(json.dumps(data))


def image_as_made_today() -> Explanation:
    """A 224 x 224 Saliency-like explanation as the image path makes it: float32 gradients, ImageNet names."""
    from lumos.zoo.vision import imagenet_class_names

    rng = np.random.default_rng(0)
    logits = rng.normal(size=1000).astype(np.float32)
    prediction = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    values = np.abs(rng.normal(scale=0.05, size=224 * 224)).astype(np.float32)  # |gradient|, full mantissas
    return Explanation(values=values, features=Grid(224, 224), target=int(prediction.argmax()),
                       prediction=prediction.astype(np.float32), class_names=imagenet_class_names(),
                       method="saliency", params={"output": "logit", "abs": True}, output="logit",
                       output_value=float(logits.max()), cost=Cost(n_evals=1, seconds=0.05))


def test_image_explanation_is_far_smaller_in_format_2():
    """A 224 x 224 explanation writes to under 1/6 of its format-1 size, losslessly, and all but its values
    (labels, class names, prediction) to under 1/10.

    1/10 overall is out of reach losslessly: the 50,176 float32 gradients of a real image have ~25 bits of
    entropy each (~157 kB), about 1/10 of the format-1 file on their own."""
    e = image_as_made_today()
    v1 = len(json.dumps(to_dict_v1(e)))
    v2 = len(e.to_json())
    assert Explanation.from_json(e.to_json()) == e
    assert v2 < v1 / 6, (v1, v2)
    values_v1 = len(json.dumps(e.values.tolist()))
    values_v2 = len(json.dumps(e.to_dict()["values"]))
    assert v2 - values_v2 < (v1 - values_v1) / 10, (v1 - values_v1, v2 - values_v2)


def test_image_explanation_with_float16_values_is_under_a_tenth_of_format_1():
    """By choice (precision="float16"), a 224 x 224 explanation writes to under 1/10 of its format-1 size; its
    values come back within float16's rounding (relative 2^-11) and everything else exactly."""
    e = image_as_made_today()
    v1 = len(json.dumps(to_dict_v1(e)))
    text = e.to_json(precision="float16")
    assert len(text) < v1 / 10, (v1, len(text))
    back = Explanation.from_json(text)
    np.testing.assert_allclose(back.values, e.values, rtol=2 ** -11, atol=6e-8)
    assert back.features == e.features and back.class_names == e.class_names and back.target == e.target
    assert back.with_values(values=e.values, prediction=e.prediction) == e
    assert Explanation.from_json(e.to_json(precision="float32")) == e  # float32 gradients: float32 is exact
    with pytest.raises(InvalidArgumentError, match="'precision' parameter of Explanation.to_dict must be one of"):
        e.to_json(precision="int8")
