"""`lumos lens` and `lumos trace` on the zoo's smollm2-135m: their tables, their JSON (the lens's last layer is
the model's next token, restoring the last layer's last position restores the clean probability) and their
one-line errors. Short prompts and few layers keep each run to seconds."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lumos.cli import main
from lumos.zoo import llm

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(llm._package_dir() is None, reason=f"needs `{llm.INSTALL}`")]

PROMPT = "The capital of France is"


def test_lens_table_and_json():
    """The table has one row per chosen layer and the last reads ' Paris' at rank 1; --json holds every position
    of those layers, and the last layer's probability of the next token is its top-1 probability."""
    runner = CliRunner()
    out = runner.invoke(main, ["lens", PROMPT, "--layers", "0,-1", "--k", "3"])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert "the model's next token is ' Paris'" in out.stdout
    rows = [line for line in lines if line.split() and line.split()[0].isdigit()]
    assert len(rows) == 2 and rows[-1].split()[1] == "layers.29.output" and "' Paris'" in rows[-1]
    out = runner.invoke(main, ["lens", PROMPT, "--layers", "0,-1", "--k", "3", "--json"])
    data = json.loads(out.stdout)
    assert data["layers"] == [0, 30] and len(data["top_ids"][1]) == len(data["ids"])
    assert data["target_tokens"][-1] == " Paris" and data["target_rank"][1][-1] == 1
    assert data["target_prob"][1][-1] == pytest.approx(data["top_probs"][1][-1][0], abs=1e-12)


def test_trace_table_and_json():
    """The table names the clean and corrupted probabilities and the strongest cells; in the JSON, restoring the
    last layer at the last position gives back the clean probability."""
    runner = CliRunner()
    args = ["trace", PROMPT, "--corrupt", "France", "--layers", "-1", "--positions", "3,-1", "--n-samples", "1"]
    out = runner.invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "p(' Paris')" in out.stdout and "clean" in out.stdout and "3:' France'" in out.stdout
    cells = [line.split() for line in out.stdout.splitlines() if line.split() and line.split()[0].isdigit()]
    assert [c[:2] for c in cells] == [["29", "4"], ["29", "3"]] and cells[0][-1] == "1.00"
    out = runner.invoke(main, [*args, "--json"])
    data = json.loads(out.stdout)
    assert data["layers"] == [29] and data["positions"] == [3, 4] and data["corrupted_positions"] == [3]
    assert data["probs"][0][1] == pytest.approx(data["p_clean"], abs=1e-6)
    assert data["p_corrupt"] < data["p_clean"]


@pytest.mark.parametrize("args, message", [
    (["trace", PROMPT, "--corrupt", "London", "--layers", "-1"], "'corrupt' parameter"),
    (["trace", PROMPT, "--corrupt", "France", "--target", "Paris is"], "'target' parameter"),
    (["lens", PROMPT, "--layers", "one"], "'--layers' option"),
])
def test_bad_options_exit_2_with_one_line(args, message):
    """A bad option or argument is named on one line, exit status 2, no traceback (every other bad argument
    is tested on the API in tests/generation)."""
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 2 and message in out.output and "Traceback" not in out.output


def test_a_classifier_is_refused():
    """The zoo's text classifier is not a causal LM: `lumos lens` and `lumos trace` say so."""
    for command in (["lens", "late again"], ["trace", "late again", "--corrupt", "late"]):
        out = CliRunner().invoke(main, [*command, "--model", "tweets-sentiment"])
        assert out.exit_code == 2 and "causal language model" in out.output, out.output
