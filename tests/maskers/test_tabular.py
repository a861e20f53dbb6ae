"""The tabular masker: hidden columns from a background sample, averaged into the interventional
expectation; errors for bad shapes and backgrounds too large."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lumos
from lumos import CallableAdapter, Occlusion
from lumos.maskers import TabularMasker

BACKGROUND = np.array([[0.0, 1.0, -2.0],
                       [3.0, -1.0, 0.5],
                       [-1.0, 2.0, 4.0]])
X = np.array([2.0, -3.0, 1.0])


def f(x: np.ndarray) -> float:
    """A nonlinear score, so that the mean of f over the background differs from f at the mean."""
    return float(x[0] * x[1] + np.exp(0.1 * x[2]))


def test_apply_fills_hidden_columns_row_by_row_mask_major():
    """Mask j's k rows are the example with its hidden columns taken from background row 0..k-1."""
    masker = TabularMasker(BACKGROUND)
    p = masker.prepare(X)
    masks = np.array([[True, False, True], [False, False, False], [True, True, True]])
    rows = masker.apply(p, masks)
    assert len(rows) == 3 * len(BACKGROUND) and masker.rows_per_mask == 3
    for j, mask in enumerate(masks):
        for b, background_row in enumerate(BACKGROUND):
            np.testing.assert_array_equal(rows[j * 3 + b], np.where(mask, X, background_row))


def test_values_are_the_interventional_expectation():
    """The game's value of a mask is the mean of f over the background with the shown columns set to x:
    checked on occlusion's v(all), v(none) and leave-one-out drops, computed here by hand."""
    adapter = CallableAdapter(lambda rows: np.array([[f(r), -f(r)] for r in rows]), class_names=["s", "t"],
                              output_kind="logits")
    e = Occlusion(adapter, masker=TabularMasker(BACKGROUND)).attribute(X, target=0)

    def v(shown):
        return np.mean([f(np.where(shown, X, b)) for b in BACKGROUND])

    full, empty = v(np.ones(3, dtype=bool)), v(np.zeros(3, dtype=bool))
    # The masker works in float32: inputs are rounded to float32 before f sees them (all exact here).
    assert e.output_value == pytest.approx(full, abs=1e-6) and full == pytest.approx(f(X))
    assert e.base_value == pytest.approx(empty, abs=1e-6)
    assert empty != pytest.approx(f(BACKGROUND.mean(0)), abs=1e-3)  # an expectation, not f at the mean
    drops = [full - v(np.arange(3) != i) for i in range(3)]
    np.testing.assert_allclose(e.values, drops, rtol=0, atol=1e-6)
    assert e.cost.n_evals == (3 + 2) * len(BACKGROUND)


def test_feature_names_label_the_features():
    """Features are named by feature_names, or x0, x1, ... by default."""
    assert TabularMasker(BACKGROUND).prepare(X).labels == ("x0", "x1", "x2")
    p = TabularMasker(BACKGROUND, feature_names=["age", "income", "debt"]).prepare(X)
    assert p.labels == ("age", "income", "debt") and p.n_features == 3


@pytest.mark.parametrize("background, shape", [
    (np.zeros(3), "(3,)"),
    (np.zeros((0, 3)), "(0, 3)"),
    (np.zeros((2, 0)), "(2, 0)"),
    (np.zeros((2, 3, 1)), "(2, 3, 1)"),
])
def test_bad_background_shape_is_named(background, shape):
    """A background that is not a non-empty 2-D array is refused with its shape in the message."""
    with pytest.raises(lumos.InvalidArgumentError,
                       match=re.escape(f"non-empty 2-D array (rows, features). Got shape {shape}.")):
        TabularMasker(background)


def test_too_large_background_is_refused():
    """A background with more rows than max_rows is refused (each mask would cost that many rows)."""
    with pytest.raises(lumos.InvalidArgumentError, match="has 1001 rows; at most 1000 are accepted"):
        TabularMasker(np.zeros((1001, 2)))
    with pytest.raises(lumos.InvalidArgumentError, match="has 5 rows; at most 4 are accepted"):
        TabularMasker(np.zeros((5, 2)), max_rows=4)
    assert TabularMasker(np.zeros((4, 2)), max_rows=4).rows_per_mask == 4
    with pytest.raises(lumos.InvalidArgumentError, match="'max_rows' parameter of TabularMasker must be an int >= 1"):
        TabularMasker(np.zeros((1, 2)), max_rows=0)


def test_example_and_names_must_match_the_background():
    """An example of another width, or the wrong number of feature names, is refused."""
    masker = TabularMasker(BACKGROUND)
    with pytest.raises(lumos.InvalidArgumentError, match=r"expects examples of shape \(3,\)\. Got \(4,\)"):
        masker.prepare(np.zeros(4))
    with pytest.raises(lumos.InvalidArgumentError, match=r"expects examples of shape \(3,\)\. Got \(1, 3\)"):
        masker.prepare(np.zeros((1, 3)))
    with pytest.raises(lumos.InvalidArgumentError, match="'feature_names' of TabularMasker must name 3 features. Got 2"):
        TabularMasker(BACKGROUND, feature_names=["a", "b"])


def test_masked_rows_keep_the_examples_dtype():
    """TabularMasker no longer rounds to float32: a float64 example gets float64 rows holding its exact values
    (and the background's), a float32 example (a float32 model's) float32 rows."""
    background = np.array([[0.1, 1e-9 + 1.0], [0.3, 2.0 / 3.0]])
    masker = TabularMasker(background)
    assert masker.background.dtype == np.float64
    x = np.array([1.0 / 3.0, 1e-12 + 5.0])
    rows = masker.apply(masker.prepare(x), np.array([[True, False]]))
    assert rows[0].dtype == np.float64
    np.testing.assert_array_equal(np.stack(rows), [[x[0], background[0, 1]], [x[0], background[1, 1]]])
    rows32 = masker.apply(masker.prepare(x.astype(np.float32)), np.array([[False, True]]))
    assert rows32[0].dtype == np.float32
