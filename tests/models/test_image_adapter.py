"""The image adapter: input handling, normalisation inside forward, pixel gradients with closed-form answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lumos
from lumos.attribution import GradientXInput, IntegratedGradients, Saliency
from lumos.errors import InvalidArgumentError, InvalidTypeError
from lumos.models import ImageAdapter
from lumos.models.vision import overlay, pixel_map, png_base64, read_image, to_image
from lumos.representation.cnn import activation_maps, kernels


class PixelLinear(nn.Module):
    """Logit c = sum over pixels and channels of W[c] * normalised input (a known gradient)."""

    def __init__(self, h: int = 4, w: int = 5, channels: int = 3, n_classes: int = 2) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.weight = nn.Parameter(torch.randn(n_classes, channels, h, w, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bchw,kchw->bk", x, self.weight)


MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)


@pytest.fixture(scope="module")
def linear() -> ImageAdapter:
    return ImageAdapter(PixelLinear(), image_size=(4, 5), mean=MEAN, std=STD, class_names=["a", "b"])


def image(seed: int = 1, shape=(4, 5, 3)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_saliency_is_the_weight_over_std_summed_over_channels(linear):
    x = image()
    e = Saliency(linear, output="logit").attribute(x, target="b")
    w = linear.model.weight.detach().numpy()[1]  # (C, H, W)
    expected = (np.abs(w / np.array(STD)[:, None, None])).sum(0)  # saliency: |gradient|, summed over channels
    got = pixel_map(e)
    assert got.shape == (4, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_gradient_x_input_and_ig_are_complete_on_a_linear_model(linear):
    x = image(2)
    f = lambda img: linear.predict([img])[0, 0]  # noqa: E731
    e = GradientXInput(linear).attribute(x, target=0)
    # Linear in the pixels, with an offset from the normalisation: x * grad sums to f(x) - f(0).
    assert e.values.sum() == pytest.approx(f(x) - f(np.zeros_like(x)), rel=1e-4)
    ig = IntegratedGradients(linear, baseline="mean", n_steps=4).attribute(x, target=0)
    mean_image = np.broadcast_to(np.array(MEAN, np.float32), x.shape)
    assert ig.values.sum() == pytest.approx(f(x) - f(mean_image), rel=1e-4)
    assert abs(ig.convergence_delta) < 1e-4
    assert f(mean_image) == pytest.approx(0.0, abs=1e-5)  # the mean colour is the network's zero input


def test_inputs_uint8_grey_float_and_batches(linear):
    u8 = (image(3) * 255).astype(np.uint8)
    examples, single = linear.split_inputs(u8)
    assert single and examples[0].dtype == np.float32 and examples[0].max() <= 1.0
    np.testing.assert_allclose(examples[0], u8 / 255.0, atol=1e-6)
    grey = image(4, (4, 5))
    (g,), _ = linear.split_inputs(grey)
    assert g.shape == (4, 5, 3) and np.allclose(g[..., 0], g[..., 2])
    batch, single = linear.split_inputs([u8, grey])
    assert not single and len(batch) == 2
    big = image(5, (40, 50, 3))
    (resized,), _ = linear.split_inputs(big)
    assert resized.shape == (4, 5, 3)
    assert resized.mean() == pytest.approx(big.mean(), abs=0.05)


def test_bad_images_name_what_is_accepted(linear, tmp_path):
    with pytest.raises(InvalidArgumentError, match=r"\[0, 1\]"):
        linear.split_inputs(image() * 3)
    with pytest.raises(InvalidArgumentError, match="shape"):
        linear.split_inputs(np.zeros((4, 5, 2)))
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        read_image(tmp_path / "missing.png")
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(InvalidArgumentError, match="not an image"):
        linear.split_inputs(str(bad))
    with pytest.raises(InvalidTypeError):
        to_image({"a": 1})
    with pytest.raises(InvalidArgumentError, match="image_size"):
        ImageAdapter(PixelLinear(), image_size=(4,))
    with pytest.raises(InvalidArgumentError, match="baseline"):
        Saliency(linear, baseline="grey")


def test_image_file_round_trip(linear, tmp_path):
    from PIL import Image

    u8 = (image(6) * 255).astype(np.uint8)
    Image.fromarray(u8).save(tmp_path / "x.png")
    np.testing.assert_array_equal(read_image(tmp_path / "x.png"), u8)
    a = linear.predict(linear.split_inputs(str(tmp_path / "x.png"))[0])
    b = linear.predict(linear.split_inputs(u8)[0])
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_as_adapter_routes_image_size_to_the_image_adapter():
    adapter = lumos.as_adapter(PixelLinear(), image_size=(4, 5))
    assert isinstance(adapter, ImageAdapter) and adapter.class_names == ("class_0", "class_1")


def test_blur_baseline_keeps_the_mean_and_smooths(linear):
    x = image(7)
    enc = linear.encode([x])
    blurred = linear.baseline(enc, "blur").reshape(4, 5, 3).numpy()
    assert blurred.std() < x.std()
    assert blurred.mean() == pytest.approx(x.mean(), abs=0.05)


def test_views_on_the_digits_cnn():
    model = lumos.zoo.load("digits-cnn")
    digit = lumos.zoo.dataset("digits").test.images[0]
    maps, channels = activation_maps(model, digit)
    assert maps.shape == (32, 4, 4) and (maps >= 0).all()  # after a ReLU
    # The head reads the spatial mean of these maps: the logits follow from them exactly.
    head = model.model.head
    logits = head(torch.as_tensor(maps.mean(axis=(1, 2)))).detach().numpy()
    np.testing.assert_allclose(logits, model.predict([digit[..., None]])[0], rtol=1e-4, atol=1e-5)
    top, which = activation_maps(model, digit, top=3)
    assert list(which) == list(np.argsort(-maps.mean(axis=(1, 2)), kind="stable")[:3])
    k = kernels(model)
    assert k.shape == (16, 3, 3, 1)
    np.testing.assert_array_equal(k[..., 0], model.model.features[0].weight.detach().numpy()[:, 0])
    with pytest.raises(InvalidArgumentError, match="layer"):
        kernels(model, "head")
    pic = overlay(digit, maps[0])
    assert pic.shape == (8, 8, 3) and pic.dtype == np.uint8
    assert png_base64(pic).startswith("iVBOR")  # the PNG signature in base64
