"""The report for image models: inline PNG overlays, self-contained, escaped, accuracy where labels exist."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

import lumos
from lumos.errors import InvalidArgumentError
from lumos.report import build_report


def test_digits_report_has_inline_overlays_and_accuracy(tmp_path):
    path = build_report("digits-cnn", n=3, out=tmp_path, methods=["grad_cam", "occlusion"], progress=False)
    html = path.read_text()
    assert "Saliency overlays" in html and "<script" not in html and "http://" not in html and "https://" not in html
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(pngs) == 3 * (1 + 2)  # per image: the input and one overlay per method
    with Image.open(io.BytesIO(base64.b64decode(pngs[1]))) as img:
        assert img.size == (160, 160)  # 8 x 8 digits enlarged 20 times
    model = lumos.zoo.load("digits-cnn")
    data = lumos.zoo.dataset("digits").test
    accuracy = (model.predict(model.split_inputs(data.images)[0]).argmax(1) == data.labels).mean()
    assert f"Accuracy <strong>{accuracy:.4g}</strong> on {len(data)} images" in html


def test_a_directory_of_images_is_explained_and_names_are_escaped(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    digit = (lumos.zoo.dataset("digits").test.images[1] * 255).astype(np.uint8)
    Image.fromarray(digit).save(photos / "<b>seven&.png")
    (photos / "notes.txt").write_text("not an image")
    html = build_report("digits-cnn", data=str(photos), out=tmp_path / "out", methods=["grad_cam"],
                        progress=False).read_text()
    assert "&lt;b&gt;seven&amp;.png" in html and "<b>seven" not in html
    assert "Held-out accuracy" not in html  # no labels, no accuracy
    with pytest.raises(InvalidArgumentError, match="directory of image files"):
        build_report("digits-cnn", data=str(tmp_path / "nowhere"), out=tmp_path / "x", progress=False)
