"""`lumos generate` on the zoo's SmolLM2: the continuation and each token's top sources, JSON, and errors that
name the argument before the model is loaded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from lumos.cli import main

pytestmark = pytest.mark.slow


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_generate_prints_each_token_and_its_sources():
    result = run("generate", "The capital of France is", "--max-new-tokens", "3", "--explain", "gxi")
    assert result.exit_code == 0, result.output
    assert "Paris" in result.output and "top sources" in result.output


def test_generate_json_is_a_causal_matrix():
    result = run("generate", "The capital of France is", "--max-new-tokens", "2", "--explain", "occlusion",
                 "--json")
    data = json.loads(result.stdout)
    values = np.asarray(data["values"], dtype=float) if isinstance(data["values"], list) else None
    assert data["axes"] == ["targets", "features"] and len(data["targets"]) == 2
    assert values is None or values.shape == (2, len(data["features"]))


@pytest.mark.parametrize("args, match", [
    (["", "--max-new-tokens", "2"], "PROMPT is empty"),
    (["hi", "--max-new-tokens", "0"], "'--max-new-tokens'"),
    (["hi", "--explain", "nope"], "'method'"),
    (["hi", "--target", "first"], "'--target'"),
    (["hi", "--contrast", "two tokens and more"], "'contrast'.*exactly one token"),
    (["hi", "--model", "tweets-sentiment"], "needs a causal language model"),
])
def test_bad_input_is_one_line(args, match):
    result = CliRunner().invoke(main, ["generate", *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    import re
    assert re.search(match, result.output), result.output


def test_classifier_commands_refuse_a_causal_lm():
    result = CliRunner().invoke(main, ["explain", "hello there", "--model", "smollm2-135m"])
    assert result.exit_code == 2 and "needs a classifier" in result.output and "lumos generate" in result.output


def test_evaluate_ranks_methods_on_a_causal_lm(tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("The capital of France is\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", "--model", "smollm2-135m", "--data", str(prompts), "--n", "1",
                                       "--methods", "occlusion,gxi", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["settings"]["output"] == "log_probability" and len(data["ranking"]) == 2
