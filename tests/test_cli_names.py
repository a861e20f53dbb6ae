"""CLI options are named after the API parameters they set; the old spellings still work, hidden, with a
one-line deprecation warning on stderr."""

import click
import pytest
from click.testing import CliRunner

import lumos
from lumos.cli import main
from lumos.cli._common import deprecated_alias
from lumos.errors import InvalidArgumentError

#: Old spelling -> (command, new spelling).
RENAMED = {
    ("explain", "--steps"): "--n-steps", ("explain", "--evals"): "--n-evals", ("report", "--quality"): "--quality-n",
    ("evaluate", "--sanity-n"): "--n-sanity", ("evaluate", "--sensitivity-n"): "--n-sensitivity",
    ("diagnose", "--slices"): "--top-k", ("diagnose", "--errors"): "--n-errors",
    ("global", "--repeats"): "--n-repeats", ("global", "--depth"): "--max-depth",
    ("compress", "--method"): "--specs", ("compress", "--explain"): "--n-explain",
}


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def _option(command: str, spelling: str) -> click.Option:
    return next(p for p in main.commands[command].params if spelling in p.opts)


@pytest.mark.parametrize(("command", "old"), list(RENAMED))
def test_old_spellings_are_hidden_options_of_the_same_type(command, old):
    """Each old spelling is accepted, hidden from --help, and parses its value like the new option."""
    new = RENAMED[command, old]
    alias, current = _option(command, old), _option(command, new)
    assert alias.hidden and not current.hidden and alias.multiple == current.multiple
    assert alias.type == current.type
    help_text = CliRunner().invoke(main, [command, "--help"]).output
    assert new in help_text and f"{old} " not in help_text


def _probe() -> click.Command:
    seen = {}

    @click.command()
    @click.option("--n-steps", default=3, type=int)
    @deprecated_alias("--steps", "--n-steps", type=int)
    def probe(n_steps: int) -> None:
        seen["n_steps"] = n_steps

    probe.seen = seen
    return probe


def test_an_alias_sets_the_new_parameter_and_warns_once():
    """`--steps 8` sets n_steps=8 and prints one warning line naming both spellings; `--n-steps` does not warn."""
    probe = _probe()
    result = CliRunner().invoke(probe, ["--steps", "8"])
    assert result.exit_code == 0 and probe.seen == {"n_steps": 8}
    assert result.stderr == "warning: the option '--steps' is deprecated; use '--n-steps'.\n"
    again = CliRunner().invoke(probe, ["--n-steps", "5"])
    assert again.exit_code == 0 and probe.seen == {"n_steps": 5} and again.stderr == ""
    default = CliRunner().invoke(probe, [])
    assert default.exit_code == 0 and probe.seen == {"n_steps": 3}


def test_giving_both_spellings_is_a_usage_error(runner):
    """The old and the new spelling together are refused rather than one silently winning."""
    result = runner.invoke(main, ["explain", "hello", "--n-steps", "4", "--steps", "8"])
    assert result.exit_code == 2 and "Give '--n-steps' only: '--steps' is its deprecated spelling." in result.output


def test_explain_old_and_new_names(runner):
    """`--evals` reaches the same check as `--n-evals` (before any model is loaded); `--n-steps` sets n_steps."""
    old = runner.invoke(main, ["explain", "hello", "--method", "ig", "--evals", "50"])
    assert old.exit_code == 2 and "'--evals' is deprecated" in old.stderr
    assert "The '--n-evals' option sets 'n_evals', which integrated_gradients does not take" in old.stderr
    new = runner.invoke(main, ["explain", "the flight was late", "--method", "ig", "--n-steps", "8", "--json"])
    assert new.exit_code == 0, new.output
    assert lumos.Explanation.from_json(new.stdout).params["n_steps"] == 8
    old_steps = runner.invoke(main, ["explain", "the flight was late", "--method", "ig", "--steps", "8", "--json"])
    assert old_steps.exit_code == 0 and lumos.Explanation.from_json(old_steps.stdout).params["n_steps"] == 8


def test_report_quality_alias_reaches_quality_n(runner, tmp_path):
    """`--quality 3` is `--quality-n 3`: on a table model both fail with the same message naming quality_n=3."""
    for spelling in ("--quality", "--quality-n"):
        result = runner.invoke(main, ["report", "-m", "breast-cancer-mlp", spelling, "3", "--out", str(tmp_path)])
        assert result.exit_code == 2 and "quality_n=3" in result.stderr
        assert ("is deprecated" in result.stderr) == (spelling == "--quality")


def test_compress_specs_and_the_old_method_option(runner):
    """`--specs` takes comma-separated specs; the old `--method` still reaches the same spec check."""
    for args in (["--specs", "prune:0.5,shrink:2"], ["--method", "shrink:2"]):
        result = runner.invoke(main, ["compress", *args])
        assert result.exit_code == 2 and "is not one of 'prune'" in result.stderr
    missing = runner.invoke(main, ["compress"])
    assert missing.exit_code == 2 and "The '--specs' option is required" in missing.stderr


def _capture(seen: dict):
    """A stand-in for an API function that records its keyword arguments and stops the command there."""
    def capture(*args, **kwargs):
        seen.update(kwargs)
        raise InvalidArgumentError("stopped by the test")

    return capture


@pytest.mark.parametrize("spelling", [("--repeats", "--depth"), ("--n-repeats", "--max-depth")])
def test_global_repeats_and_depth_under_both_names(runner, monkeypatch, spelling):
    """`--n-repeats 2` (or `--repeats 2`) reaches permutation_importance as n_repeats=2."""
    seen = {}
    monkeypatch.setattr(lumos.global_, "permutation_importance", _capture(seen))
    result = runner.invoke(main, ["global", "-m", "breast-cancer-gbm", spelling[0], "2", spelling[1], "2"])
    assert result.exit_code == 2 and "stopped" in result.stderr and seen["n_repeats"] == 2


@pytest.mark.parametrize("old", [True, False])
def test_diagnose_errors_and_slices_under_both_names(runner, monkeypatch, old):
    """`--n-errors 0 --top-k 2` (or `--errors 0 --slices 2`) reach diagnose as n_errors=0, top_k=2."""
    seen = {}
    monkeypatch.setattr(lumos.diagnosis, "diagnose", _capture(seen))
    args = ["--errors", "0", "--slices", "2"] if old else ["--n-errors", "0", "--top-k", "2"]
    result = runner.invoke(main, ["diagnose", "-m", "breast-cancer-gbm", *args])
    assert result.exit_code == 2 and seen["n_errors"] == 0 and seen["top_k"] == 2
    assert result.stderr.count("is deprecated") == (2 if old else 0)


def test_a_bad_data_path_names_the_option(runner, tmp_path):
    """A --data that is neither a zoo dataset nor a file is one line naming '--data'."""
    result = runner.invoke(main, ["diagnose", "-m", "breast-cancer-gbm", "--data", str(tmp_path / "none.csv")])
    assert result.exit_code == 2 and "The '--data' argument must be a zoo dataset" in result.stderr
    assert result.stderr.strip().count("\n") == 0
