"""The report as data: every section of a built report is plain data that serialises to JSON, and the method
presets come from the registry."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

import lumos
from lumos.attribution.registry import make_methods, preset, preset_methods, preset_names
from lumos.report import DEFAULT_METHODS, report_data
from lumos.report.common import HeatCell, HeatRow, LineChart, SectionData, Series, json_ready
from lumos.report.render import render_report


def _strict_json(data: SectionData) -> dict:
    """``data.to_dict()`` after a round trip through strict JSON (no NaN), which must not change it."""
    payload = data.to_dict()
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload
    return payload


def _no_markup(value) -> None:
    """No string of the data is markup: no tag, no SVG, no CSS colour."""
    if isinstance(value, dict):
        for v in value.values():
            _no_markup(v)
    elif isinstance(value, list):
        for v in value:
            _no_markup(v)
    elif isinstance(value, str):
        assert "<svg" not in value and "<rect" not in value and "rgba(" not in value, value[:80]


@pytest.fixture(scope="module")
def text_data(tmp_path_factory):
    rows = [(f"<b>late</b> flight {i} again", "negative") for i in range(4)] + \
        [(f"thanks, great crew on flight {i}", "positive") for i in range(4)] + \
        [(f"when does boarding start for flight {i}", "neutral") for i in range(4)]
    path = tmp_path_factory.mktemp("data") / "d.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return report_data("tweets-sentiment", data=str(path), n=2, methods=["saliency", "occlusion"], quality_n=2,
                       compress=["prune:0.3"], progress=False)


def test_every_section_of_a_text_report_serialises_to_json(text_data):
    """Each section of a text report with every optional section (diagnosis, inside, quality, compression)
    serialises with strict json.dumps and holds numbers and labels, not markup."""
    assert text_data.kind == "texts"
    assert set(text_data.sections()) == {"diagnosis", "inside", "quality", "compression"}
    for section in text_data.sections().values():
        _no_markup(_strict_json(section))
    whole = _strict_json(text_data)
    _no_markup(whole)
    assert [row["method"] for row in whole["examples"][0]["rows"]] == ["saliency", "occlusion"]
    assert len(whole["inside"]["attention"][0]["matrix"]["weights"]) == len(
        whole["inside"]["attention"][0]["matrix"]["tokens"])
    assert [len(c["series"]) for c in whole["quality"]["plots"][:2]] == [3, 3]  # two methods and random


def test_table_and_image_reports_serialise_to_json():
    """The table report (diagnosis and permutation importance) and the image report serialise too."""
    table = report_data("breast-cancer-gbm", n=1, methods=["occlusion"], progress=False)
    assert table.kind == "tables" and set(table.sections()) == {"diagnosis", "importance"}
    payload = _strict_json(table)
    _no_markup(payload)
    cell = payload["examples"][0]["rows"][0]["cells"][0]
    assert isinstance(cell["feature_value"], float) and isinstance(cell["word"], str)
    images = report_data("digits-cnn", n=1, methods=["grad_cam"], progress=False)
    assert images.kind == "images" and images.sections() == {}
    assert len(_strict_json(images)["examples"][0]["overlays"]) == 1


def test_the_page_is_rendered_from_the_data(text_data):
    """Rendering the same data twice gives the same page, and the heat colours come from the renderer."""
    page = render_report(text_data)
    assert page == render_report(text_data)
    assert page.count('aria-label="attention matrix"') == 3 and "rgba(" in page


def test_json_ready_converts_numpy_tuples_and_non_finite_numbers():
    """Arrays and tuples become lists, numpy scalars Python numbers, NaN and infinities None."""
    chart = LineChart("t", "x", "y", [Series("a", np.array([0.0, 1.0]), np.array([np.nan, np.float32(2.0)]))],
                      y_range=(0, 1))
    assert chart.to_dict() == {"title": "t", "x_label": "x", "y_label": "y",
                               "series": [{"name": "a", "xs": [0.0, 1.0], "ys": [None, 2.0]}],
                               "x_ticks": None, "y_range": [0, 1]}
    row = HeatRow("m", [HeatCell("w", np.float64(0.5))], np.float64(-math.inf), None, 0.5)
    assert json_ready({"r": row, "flag": np.bool_(True), "n": np.int64(3)}) == {
        "r": {"method": "m", "cells": [{"word": "w", "value": 0.5, "feature_value": None}], "sum": None,
              "delta": None, "scale": 0.5}, "flag": True, "n": 3}


def test_presets_live_in_the_registry():
    """The report's default methods are the registry's "text" preset; the copy returned cannot change it."""
    assert preset_names() == ("text", "table", "generation", "image")
    assert DEFAULT_METHODS == preset("text")
    preset("text")["lime"]["n_evals"] = 1
    assert preset("text")["lime"] == {"n_evals": 300}
    assert preset("table")["occlusion"] == {"batch_size": 4096}
    assert preset_methods("text") == [n for n in preset("text") if n in lumos.method_names()]
    with pytest.raises(lumos.UnknownNameError, match="'preset' parameter must be one of 'text', 'table', 'generation', 'image'"):
        preset("audio")


def test_make_methods_takes_a_preset_by_name(tweets_model):
    """make_methods with a preset's name uses its settings; without names, its registered methods."""
    methods, notes = make_methods(tweets_model, ["lime"], "text")
    assert methods["lime"].n_evals == 300 and notes == []
    methods, _ = make_methods(tweets_model, None, "text")
    assert list(methods) == preset_methods("text")
