"""compare(): an unchanged copy shows no drift at all; real compression shows its sizes and drift; the short
forms of compress() and the `lumos compress` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import lumos
from lumos.cli import main
from lumos.compression import compare, compress, parse_spec, prune_heads, prune_magnitude

METHODS = {"saliency": {}, "occlusion": {}}


@pytest.fixture(scope="module")
def labels():
    return np.asarray(lumos.zoo.dataset("airline-tweets").validation.labels[:12])


def test_an_unchanged_copy_shows_no_drift(tiny, texts, labels):
    """Pruning at sparsity 0 changes nothing: agreement 1, rank correlation 1, top-k overlap 1, the same
    faithfulness, parameters and bytes as the original."""
    result = compare(tiny, [prune_magnitude(tiny, 0.0)], texts, labels, methods=METHODS, n_explain=4,
                     latency_examples=2, latency_repeats=1)
    original, copy = result.rows
    assert original.spec == "original" and copy.spec == "prune:0"
    assert copy.agreement == 1.0 and copy.mean_probability_change == 0.0 and copy.accuracy == original.accuracy
    assert (copy.parameters, copy.nonzero_parameters, copy.bytes) == (original.parameters,
                                                                     original.nonzero_parameters, original.bytes)
    for m in METHODS:
        assert copy.drift[m].rank_correlation[0] == pytest.approx(1.0)
        assert copy.drift[m].topk_overlap[0] == 1.0
        assert copy.drift[m].faithfulness == pytest.approx(original.drift[m].faithfulness)
        assert original.drift[m].rank_correlation is None


def test_compression_shows_in_size_agreement_and_drift(tiny, texts, labels):
    """Half the linear weights pruned: non-zero parameters and bytes fall; removing heads lowers the parameter
    count; accuracy and agreement are measured against the labels and the original's predictions."""
    pruned, heads = prune_magnitude(tiny, 0.5), prune_heads(tiny, 2)
    result = compare(tiny, {"half": pruned, "two heads": heads}, texts, labels, methods=METHODS, n_explain=4,
                     latency_examples=2, latency_repeats=1)
    original, half, fewer = result.rows
    assert [r.spec for r in result.rows] == ["original", "half", "two heads"]
    linear = pruned.compression[-1]["prunable"]
    assert original.nonzero_parameters - half.nonzero_parameters == pytest.approx(linear / 2, abs=1)
    assert half.bytes < original.bytes and fewer.parameters < original.parameters
    expected = (heads.predict(texts).argmax(1) == tiny.predict(texts).argmax(1)).mean()
    assert fewer.agreement == pytest.approx(expected)
    assert half.accuracy == pytest.approx((pruned.predict(texts).argmax(1) == labels).mean())
    for row in (half, fewer):
        for m in METHODS:
            rho, half_width = row.drift[m].rank_correlation
            assert -1 <= rho <= 1 and row.drift[m].seconds_per_explanation > 0
    json.dumps(result.to_dict())  # plain data
    assert len(result.render()) == 2


@pytest.mark.parametrize("call, error, pattern", [
    (lambda m, t: compare(m, [m], t, labels=[0, 1]), lumos.InvalidArgumentError,
     r"'labels' parameter of compare must hold one class per example \(12\)"),
    (lambda m, t: compare(m, [lumos.as_adapter(lambda xs: np.zeros((len(xs), 2)), class_names=["a", "b"])], t),
     lumos.InvalidArgumentError, r"compressed models must keep the original's classes"),
    (lambda m, t: compare(m, [m], t, methods=[]), lumos.InvalidArgumentError, r"at least one attribution method"),
])
def test_bad_comparisons_are_clear_errors(tiny, texts, call, error, pattern):
    """Mismatched labels, another task's model or no method name the problem."""
    with pytest.raises(error, match=pattern):
        call(tiny, texts)


def test_short_forms_parse_and_chain():
    """'heads:4+int8' is two steps; names, values and order are checked with errors listing the forms."""
    assert parse_spec("prune:0.5") == [("prune", 0.5)]
    assert parse_spec("heads:4+int8") == [("heads", 4), ("int8", None)]
    assert parse_spec("distill:3") == [("distill", 3)]
    with pytest.raises(lumos.UnknownNameError, match=r"'pruning' .* is not one of 'prune', 'heads', 'neurons', "
                                                     r"'int8', 'distill'\. Forms: prune:S"):
        parse_spec("pruning:0.5")
    with pytest.raises(lumos.InvalidArgumentError, match=r"'heads' needs an int after ':'"):
        parse_spec("heads:half")
    with pytest.raises(lumos.InvalidArgumentError, match="int8 must be the last step"):
        parse_spec("int8+prune:0.5")
    with pytest.raises(lumos.InvalidArgumentError, match="'int8' takes no value"):
        parse_spec("int8:4")


def test_compress_applies_the_steps_in_order(tiny):
    """compress(m, 'heads:1+prune:0.5') removes a head per layer, then prunes the remaining weights; an option
    no step takes is an error."""
    out = compress(tiny, "heads:1+prune:0.5")
    assert [s["method"] for s in out.compression] == ["heads", "prune"]
    assert out.name == "tiny [heads:1 + prune:0.5]"
    with pytest.raises(lumos.InvalidArgumentError, match=r"options \['epochs'\] are taken by none"):
        compress(tiny, "prune:0.5", epochs=2)


def test_cli_compress_writes_models_and_prints_the_comparison(tmp_path):
    """`lumos compress --json` saves each model where `--model` can read it back and prints the comparison."""
    runner = CliRunner()
    out = tmp_path / "models"
    result = runner.invoke(main, ["compress", "--specs", "prune:0.3", "--n", "8", "--n-explain", "2", "--methods",
                                  "saliency", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    assert [r["spec"] for r in table["rows"]] == ["original", "prune:0.3"]
    assert table["rows"][1]["nonzero_parameters"] < table["rows"][0]["nonzero_parameters"]
    again = runner.invoke(main, ["explain", "the flight was late again", "--model", str(out / "prune_0.3"),
                                 "--method", "saliency", "--json"])
    assert again.exit_code == 0, again.output
    assert lumos.Explanation.from_json(again.stdout).method == "saliency"


def test_cli_compress_bad_spec_is_one_line():
    """A bad --specs is one line on stderr with exit status 2, before any model is loaded."""
    result = CliRunner().invoke(main, ["compress", "--specs", "shrink:2"])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "is not one of 'prune'" in result.output


def test_cli_distill_with_a_transfer_set(tmp_path):
    """`--train-n 16 --labels-n 8` trains a student on 8 labelled tweets and 8 more through the teacher alone, with
    the hidden-state weight given; the saved model records both counts and the weight."""
    out = tmp_path / "models"
    result = CliRunner().invoke(main, ["compress", "--specs", "distill:1", "--train-n", "16", "--labels-n", "8",
                                       "--hidden-weight", "0.5", "--epochs", "1", "--n", "4", "--n-explain", "1",
                                       "--methods", "saliency", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    step = lumos.load_model(str(out / "distill_1")).compression[-1]
    assert step["method"] == "distill" and step["n_train"] == 8 and step["n_unlabeled"] == 8
    assert step["hidden_weight"] == 0.5 and step["layers"] == [5]
