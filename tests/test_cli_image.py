"""``lumos explain --image``: an overlay is written, JSON round-trips, and bad input is one clear line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import lumos
from lumos.cli import main


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    digit = lumos.zoo.dataset("digits").test.images[0]
    path = tmp_path_factory.mktemp("img") / "digit.png"
    Image.fromarray((digit * 255).round().astype(np.uint8)).save(path)
    return path


def test_explain_image_writes_an_overlay(digit_png, tmp_path):
    out = tmp_path / "map.png"
    result = CliRunner().invoke(main, ["explain", "--image", str(digit_png), "--model", "digits-cnn", "--out", str(out)])
    assert result.exit_code == 0, result.output
    label = str(lumos.zoo.dataset("digits").test.labels[0])
    assert f"grad_cam for '{label}'" in result.output  # the digit is recognised and explained
    with Image.open(out) as img:
        assert img.size == (8, 8) and img.mode == "RGB"


def test_explain_image_json_and_perturbation_methods(digit_png, tmp_path):
    result = CliRunner().invoke(main, ["explain", "--image", str(digit_png), "--model", "digits-cnn",
                                       "--method", "kernel_shap", "--n-evals", "200", "--json"])
    assert result.exit_code == 0, result.output
    e = lumos.Explanation.from_dict(json.loads(result.output))
    assert e.method == "kernel_shap" and e.features[0] == "segment 0"
    assert e.values.sum() == pytest.approx(e.output_value - e.base_value, abs=1e-6)


@pytest.mark.parametrize("args, message", [
    (["--image", "missing.png", "--model", "digits-cnn"], "does not exist"),
    (["--image", __file__, "--model", "digits-cnn"], "not an image"),
    (["--model", "digits-cnn"], "either TEXT, --image PATH"),
    (["some text", "--model", "digits-cnn"], "--image PATH instead of TEXT"),
])
def test_bad_input_is_one_line(args, message):
    result = CliRunner().invoke(main, ["explain", *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_text_model_refuses_images(digit_png, tweets_model):
    result = CliRunner().invoke(main, ["explain", "--image", str(digit_png), "--model", "tweets-sentiment"])
    assert result.exit_code == 2 and "does not classify images" in result.output


def test_zoo_list_and_build_know_the_image_models():
    result = CliRunner().invoke(main, ["zoo", "list", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "model,imagenet-efficientnet-lite0,ready," in result.output and "dataset,skimage-photos" in result.output
    built = CliRunner().invoke(main, ["zoo", "build", "imagenet-efficientnet-lite0"])
    assert built.exit_code == 0 and "ready (shipped weights" in built.output
