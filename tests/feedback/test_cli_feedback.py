"""``lumos feedback`` and ``lumos retrain``: feedback is recorded from the command line, listed, counted, exported
and imported; bad feedback is one clear line with nothing written; a retrained version is saved and usable."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import lumos
from lumos.cli import main
from lumos.feedback import FeedbackStore


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    digit = lumos.zoo.dataset("digits").test.images[0]
    path = tmp_path_factory.mktemp("img") / "digit.png"
    Image.fromarray((digit * 255).round().astype(np.uint8)).save(path)
    return path


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_feedback_add_list_stats_export_import(digit_png, tmp_path):
    """Two records on a digit (a region marked irrelevant with a rating; a label correction) are stored, listed,
    counted and exported; the export imports into another store once."""
    store = str(tmp_path / "fb.sqlite")
    first = _run("feedback", "add", "--image", str(digit_png), "--model", "digits-cnn", "--region", "0:2,0:2",
                 "--rating", "2", "--comment", "the corner", "--author", "ann", "--store", store)
    assert first.exit_code == 0, first.output
    assert "feedback 1 recorded" in first.output and "4 irrelevant (0,0, 0,1, 1,0, 1,1)" in first.output
    second = _run("feedback", "add", "--image", str(digit_png), "--model", "digits-cnn", "--irrelevant", "63",
                  "--label", "3", "--author", "bo", "--store", store, "--json")
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["irrelevant"] == [63] and json.loads(second.output)["label"] == "3"
    listed = _run("feedback", "list", "--store", store, "--model", "digits-cnn")
    assert listed.exit_code == 0 and len(listed.output.strip().splitlines()) == 2 and "rating 2" in listed.output
    stats = json.loads(_run("feedback", "stats", "--store", store, "--json").output)
    assert (stats["records"], stats["irrelevant_marks"], stats["label_corrections"]) == (2, 5, 1)
    out = tmp_path / "fb.jsonl"
    assert "2 records written" in _run("feedback", "export", str(out), "--store", store).output
    other = str(tmp_path / "other.sqlite")
    assert "2 records added" in _run("feedback", "import", str(out), "--store", other).output
    assert "0 records added" in _run("feedback", "import", str(out), "--store", other).output


@pytest.mark.parametrize("args, message", [
    (["--region", "0:9,0:2"], "must lie inside the 8 x 8 image"),
    (["--irrelevant", "64"], "The 'marks' of Feedback must be feature indices in [0, 63]. Got [64]."),
    (["--rating", "0"], "The 'rating' field of Feedback must be an int in [1, 5]. Got 0."),
    (["--label", "eleven"], "The 'label' parameter of Feedback must be one of"),
    ([], "Nothing to record"),
])
def test_bad_feedback_is_one_line_and_writes_nothing(digit_png, tmp_path, args, message):
    """Each bad call exits with status 2 and one error line naming the option; the store stays empty."""
    store = tmp_path / "fb.sqlite"
    result = _run("feedback", "add", "--image", str(digit_png), "--model", "digits-cnn", "--store", str(store), *args)
    assert result.exit_code == 2 and message in result.output
    assert not store.exists() or len(FeedbackStore(store)) == 0


def test_feedback_add_needs_the_input_the_model_reads(tmp_path):
    """A table row given to an image model is refused, naming the option the model needs."""
    result = _run("feedback", "add", "--row", "1,2", "--model", "digits-cnn", "--store", str(tmp_path / "f.sqlite"))
    assert result.exit_code == 2 and "reads image inputs, so `lumos feedback add` needs --image PATH" in result.output


def test_retrain_saves_a_version_every_command_can_use(digit_png, tmp_path):
    """lumos retrain reads the store's feedback on digits-cnn, trains one epoch, saves the new version with its card
    and TensorBoard logs; lumos explain takes the new directory as --model."""
    store = str(tmp_path / "fb.sqlite")
    assert _run("feedback", "add", "--image", str(digit_png), "--model", "digits-cnn", "--region", "0:3,0:3",
                "--label", "0", "--store", store).exit_code == 0
    out = tmp_path / "v2"
    result = _run("retrain", "--model", "digits-cnn", "--store", store, "--method", "both", "--n", "40",
                  "--n-validation", "20", "--epochs", "1", "--batch-size", "16", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    card = json.loads(result.output[result.output.index("{"):])
    assert card["feedback_ids"] == [1] and card["n_train"] == 41 and card["n_annotated"] == 1
    assert set(card["metrics_after"]) == {"accuracy", "marked_share"} and (out / "tensorboard").is_dir()
    explained = _run("explain", "--image", str(digit_png), "--model", str(out), "--method", "saliency",
                     "--out", str(tmp_path / "map.png"))
    assert explained.exit_code == 0 and "digits-cnn-retrained" in explained.output


def test_retrain_without_feedback_on_the_model_says_so(tmp_path):
    """A store without records on the model is refused with the command that shows what it holds."""
    store = FeedbackStore(tmp_path / "fb.sqlite")
    store.register_model("sha256:other", name="other", class_names=["a"])
    result = _run("retrain", "--model", "digits-cnn", "--store", str(store.path), "--n", "10", "--epochs", "1")
    assert result.exit_code == 2 and "holds no feedback on the model" in result.output
