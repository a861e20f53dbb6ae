"""`lumos attention` and `lumos layers` on the zoo model: their tables, their JSON and their errors."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from lumos.cli import main


def test_attention_prints_four_columns_per_token_and_json_round_trips():
    """One row per word piece with raw, rollout, flow and attention x gradient; --json gives 4 Explanations
    whose rollout values are positive and sum to less than one (the special tokens take the rest)."""
    runner = CliRunner()
    out = runner.invoke(main, ["attention", "the crew was rude"])
    assert out.exit_code == 0, out.output
    rows = [line.split() for line in out.output.splitlines()[2:]]
    assert [r[0] for r in rows] == ["the", "crew", "was", "rude"] and all(len(r) == 5 for r in rows)
    out = runner.invoke(main, ["attention", "the crew was rude", "--json"])
    explained = json.loads(out.output)
    assert [e["method"] for e in explained] == ["attention", "rollout", "flow", "attention_x_gradient"]
    rollout = np.array(explained[1]["values"])
    assert (rollout > 0).all() and rollout.sum() < 1


def test_attention_and_layers_refuse_bad_options():
    """A layer out of range and too few examples are named, with exit status 2 and no traceback."""
    runner = CliRunner()
    out = runner.invoke(main, ["attention", "late again", "--layer", "7"])
    assert out.exit_code == 2 and "'layer' parameter of RawAttention" in out.output
    out = runner.invoke(main, ["layers", "--n", "4", "--cv", "3"])
    assert out.exit_code == 2 and "'--n' parameter" in out.output


def test_layers_json_has_one_probe_per_layer():
    """Seven sites (embeddings and six blocks), accuracies in [0, 1], computed on the held-out split."""
    out = CliRunner().invoke(main, ["layers", "--n", "45", "--cv", "3", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["split"] == "validation" and result["n_examples"] == 45
    assert [r["site"] for r in result["sites"]] == ["embeddings", *(f"layers.{i}.output" for i in range(6))]
    assert all(0 <= r["accuracy"] <= 1 and 0 < r["pca_explained_variance"] < 1 for r in result["sites"])
