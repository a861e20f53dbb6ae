"""Grad-CAM and Grad-CAM++: closed-form answers on networks whose head is global mean + linear, hooks always
removed, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lumos
from lumos.attribution import GradCAM, GradCAMPlusPlus, get_method
from lumos.errors import InvalidArgumentError, UnsupportedModelError
from lumos.models import ImageAdapter
from lumos.models.vision import pixel_map


class TinyCNN(nn.Module):
    """conv - ReLU - conv - ReLU - spatial mean - linear; ``fail`` makes the forward raise after the convs."""

    def __init__(self, channels: int = 6, n_classes: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, channels, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(channels, n_classes)
        self.fail = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.features(x)
        if self.fail:
            raise RuntimeError("deliberate failure after the convolutions")
        return self.head(a.mean(dim=(2, 3)))


def images(n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((12, 10, 3)).astype(np.float32) for _ in range(n)]


@pytest.fixture()
def tiny() -> ImageAdapter:
    return ImageAdapter(TinyCNN(), image_size=(12, 10), cam_layer="features.3")


def hooks(module: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in module.modules())


def cam_by_hand(adapter: ImageAdapter, image: np.ndarray, target: int) -> np.ndarray:
    """The class activation map of Zhou et al.: ReLU(sum_k W[target, k] A_k), divided by the h*w positions the
    mean pools over. For a mean + linear head it is exactly Grad-CAM."""
    with torch.no_grad():
        x = adapter._normalise(torch.as_tensor(image)[None])
        a = adapter.model.features(x)[0]  # (K, h, w)
    w = adapter.model.head.weight[target].detach()
    return (torch.einsum("k,khw->hw", w, a) / (a.shape[1] * a.shape[2])).clamp_min(0).double().numpy()


@pytest.mark.parametrize("target", [0, 2])
def test_grad_cam_equals_the_class_activation_map(tiny, target):
    img = images(1)[0]
    e = GradCAM(tiny, upsample=False).attribute(img, target=target)
    np.testing.assert_allclose(pixel_map(e), cam_by_hand(tiny, img, target), rtol=1e-6, atol=1e-9)
    assert e.target == target and e.method == "grad_cam" and e.params["layer"] == "features.3"


def test_upsampled_map_has_the_image_shape_and_keeps_the_mass(tiny):
    img = images(1)[0]
    small = pixel_map(GradCAM(tiny, upsample=False).attribute(img, target=1))
    big = pixel_map(GradCAM(tiny).attribute(img, target=1))
    assert big.shape == (12, 10) and small.shape == (12, 10)  # padding 1: the conv layer keeps the size
    np.testing.assert_allclose(big, small, rtol=1e-6)  # same grid: bilinear resizing is the identity


def test_signed_map_is_the_unclipped_sum(tiny):
    img = images(1)[0]
    signed = pixel_map(GradCAM(tiny, upsample=False, relu=False).attribute(img, target=0))
    clipped = pixel_map(GradCAM(tiny, upsample=False).attribute(img, target=0))
    np.testing.assert_allclose(np.maximum(signed, 0), clipped, atol=1e-12)


def test_grad_cam_on_the_digits_cnn_is_its_class_activation_map():
    model = lumos.zoo.load("digits-cnn")
    digit = lumos.zoo.dataset("digits").test.images[3]
    e = GradCAM(model, upsample=False).attribute(digit)
    with torch.no_grad():
        a = model.model.features(torch.as_tensor(np.array(digit))[None, None])[0]
    w = model.model.head.weight[e.target].detach()
    expected = (torch.einsum("k,khw->hw", w, a) / a[0].numel()).clamp_min(0).numpy()
    np.testing.assert_allclose(pixel_map(e), expected, rtol=1e-5, atol=1e-8)
    assert pixel_map(GradCAM(model).attribute(digit)).shape == (8, 8)


def test_grad_cam_pp_with_one_channel_is_the_rectified_feature_map():
    adapter = ImageAdapter(TinyCNN(channels=1, n_classes=2), image_size=(12, 10), cam_layer="features.3")
    img = images(1)[0]
    sign = float(adapter.model.head.weight.detach()[0, 0])
    target, other = (0, 1) if sign > 0 else (1, 0)
    if float(adapter.model.head.weight.detach()[target, 0]) * float(adapter.model.head.weight.detach()[other, 0]) > 0:
        with torch.no_grad():
            adapter.model.head.weight[other, 0] *= -1
    e = GradCAMPlusPlus(adapter, upsample=False).attribute(img, target=target)
    with torch.no_grad():
        a = adapter.model.features(adapter._normalise(torch.as_tensor(img)[None]))[0, 0].double().numpy()
    cam = pixel_map(e)
    # One channel with a positive weight: the map is that channel times a positive constant.
    scale = cam.max() / a.max()
    assert scale > 0
    np.testing.assert_allclose(cam, scale * a, rtol=1e-6, atol=1e-12)
    # A class the channel speaks against gets no positive gradient, so an empty map.
    assert np.all(pixel_map(GradCAMPlusPlus(adapter, upsample=False).attribute(img, target=other)) == 0)


def test_batches_match_single_images(tiny):
    batch = GradCAM(tiny).attribute(images(3), target=[0, 1, 2])
    for i, img in enumerate(images(3)):
        np.testing.assert_allclose(batch[i].values, GradCAM(tiny).attribute(img, target=i).values,
                                   rtol=1e-4, atol=1e-9)  # float32 convolutions batch differently


def test_no_hook_is_left_even_when_the_forward_raises(tiny):
    assert hooks(tiny.model) == 0
    GradCAM(tiny).attribute(images(1)[0])
    GradCAMPlusPlus(tiny).attribute(images(1)[0])
    assert hooks(tiny.model) == 0
    tiny.model.fail = True
    with pytest.raises(RuntimeError, match="deliberate"):
        GradCAM(tiny).attribute(images(1)[0])
    assert hooks(tiny.model) == 0


def test_registry_and_errors(tiny, tweets_model):
    assert get_method("gradcam") is GradCAM and get_method("grad-cam++") is GradCAMPlusPlus
    with pytest.raises(InvalidArgumentError, match="'layer'.*features"):
        GradCAM(tiny, layer="no.such.layer")
    with pytest.raises(UnsupportedModelError, match="image model"):
        GradCAM(tweets_model)
    with pytest.raises(UnsupportedModelError, match="convolutional feature map"):
        GradCAM(tiny, layer="head").attribute(images(1)[0])
    with pytest.raises(InvalidArgumentError, match="output"):
        GradCAM(tiny, output="margin")


def test_grad_cam_on_efficientnet_agrees_with_captum_within_the_stated_tolerance():
    """The README's figure: on EfficientNet-Lite0, lumos's Grad-CAM maps equal Captum's LayerGradCam (same layer,
    ReLU, bilinear upsampling) within 1e-6 absolute on maps that peak at 0.5-0.8 (float32 rounding;
    bench/gradcam_vs_captum.py measures 0.7-1.3e-7)."""
    captum = pytest.importorskip("captum.attr")
    model = lumos.zoo.load("imagenet-efficientnet-lite0")
    photos = lumos.zoo.dataset("skimage-photos")
    ours = GradCAM(model, progress=False)
    theirs = captum.LayerGradCam(model.module, model.module.get_submodule(ours.layer))
    images, _ = model.split_inputs([photos.images[photos.names.index(n)] for n in ("chelsea", "coffee")])
    mean, std = torch.tensor(model.mean), torch.tensor(model.std)
    for img in images:
        a = pixel_map(ours.attribute(img))
        x = ((torch.as_tensor(img)[None] - mean) / std).permute(0, 3, 1, 2)
        target = int(model.module(x).argmax(1))
        small = theirs.attribute(x, target=target, relu_attributions=True)
        b = captum.LayerAttribution.interpolate(small, model.image_size, "bilinear")[0, 0].detach().double().numpy()
        assert a.max() > 0.4
        assert np.abs(a - b).max() <= 1e-6
