"""`lumos diagnose` and `lumos global` on the zoo's tabular models, and on a CSV table."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

import lumos
from lumos.cli import main


def test_diagnose_json_on_credit_matches_the_api():
    """The CLI's accuracy and ECE equal the library's on the same split; slices carry their statistics."""
    result = CliRunner().invoke(main, ["diagnose", "-m", "credit-scoring", "--n-errors", "1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    from lumos.diagnosis import calibration

    data = lumos.zoo.dataset("credit").test
    adapter = lumos.zoo.load("credit-scoring")
    probs = adapter.predict(adapter.split_inputs(data.frame)[0])
    assert out["n"] == len(data) and out["accuracy"] == float((probs.argmax(1) == data.labels).mean())
    assert abs(out["ece"] - calibration(probs, data.labels).ece) < 1e-12
    assert out["slices"] and {"size", "error_rate", "lift", "p_value"} <= set(out["slices"][0])
    assert len(out["confident_errors"]) == 1 and out["confident_errors"][0]["label"] != \
        out["confident_errors"][0]["predicted"]


def test_diagnose_reads_a_csv_table(tmp_path):
    """A CSV of feature columns and a 'label' column of class names is diagnosed; a bad label is one line."""
    data = lumos.zoo.dataset("breast-cancer").test
    frame = data.frame.iloc[:60].copy()
    frame["label"] = np.array(["malignant", "benign"])[data.labels[:60]]
    frame.to_csv(tmp_path / "rows.csv", index=False)
    result = CliRunner().invoke(main, ["diagnose", "-m", "breast-cancer-gbm", "--data", str(tmp_path / "rows.csv"),
                                       "--n-errors", "0"])
    assert result.exit_code == 0, result.output
    assert "60 rows" in result.output and "ECE" in result.output
    frame.loc[0, "label"] = "maybe"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    bad = CliRunner().invoke(main, ["diagnose", "-m", "breast-cancer-gbm", "--data", str(tmp_path / "bad.csv")])
    assert bad.exit_code == 2 and "label 'maybe'" in bad.output


def test_global_prints_importance_and_surrogate_fidelity():
    """`lumos global` shows permutation intervals, the surrogate's fidelity and a decision path."""
    result = CliRunner().invoke(main, ["global", "-m", "breast-cancer-gbm", "--n-repeats", "2", "--n", "5"])
    assert result.exit_code == 0, result.output
    assert "fidelity" in result.output and "Decision path of example 0" in result.output
    assert "Mean |occlusion| over 5 explanations" in result.output


def test_global_on_the_text_model_fits_a_word_surrogate():
    """On tweets, `lumos global` skips permutation importance and fits a word-presence surrogate."""
    result = CliRunner().invoke(main, ["global", "-m", "tweets-sentiment", "--split", "validation", "--n", "3",
                                       "--fit-rows", "60", "--max-depth", "2", "--method", "saliency"])
    assert result.exit_code == 0, result.output
    assert "Permutation importance" not in result.output
    assert "fitted on 60 training rows, split on word presence" in result.output and "fidelity" in result.output
