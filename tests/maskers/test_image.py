"""The image masker: segmentations, what hidden segments show, and perturbation methods on images with known
answers (an additive model over quadrants has exact Shapley values)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import lumos
from lumos.attribution import LIME, ExactShapley, KernelSHAP, Occlusion
from lumos.errors import InvalidArgumentError
from lumos.maskers import ImageMasker
from lumos.models import ImageAdapter


def picture(seed: int = 0, shape=(16, 16, 3)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_grid_segments_are_equal_patches_in_raster_order():
    p = ImageMasker(segments="grid", grid=4).prepare(picture())
    labels = p.state[0]
    assert p.n_features == 16 and p.labels[0] == "segment 0"
    assert (np.bincount(labels.ravel()) == 16).all()
    assert labels[0, 0] == 0 and labels[0, 15] == 3 and labels[15, 0] == 12 and labels[15, 15] == 15


def test_slic_gives_dense_labels_near_the_requested_count():
    img = lumos.zoo.dataset("skimage-photos")["coffee"][::4, ::4] / 255.0
    p = ImageMasker(n_segments=30).prepare(img.astype(np.float32))
    labels = p.state[0]
    assert set(np.unique(labels)) == set(range(p.n_features))
    assert 10 <= p.n_features <= 60


def test_apply_shows_kept_segments_and_the_baseline_elsewhere():
    img = picture(1)
    for hide in ("blur", "mean", "segment_mean", "zero", (0.5, 0.5, 0.5)):
        masker = ImageMasker(segments="grid", grid=2, hide=hide)
        p = masker.prepare(img)
        full, empty, half = masker.apply(p, np.array([[1, 1, 1, 1], [0, 0, 0, 0], [1, 0, 0, 1]], dtype=bool))
        np.testing.assert_array_equal(full, img)
        np.testing.assert_array_equal(empty, p.state[1])
        np.testing.assert_array_equal(half[:8, :8], img[:8, :8])
        np.testing.assert_array_equal(half[:8, 8:], p.state[1][:8, 8:])
    seg_mean = ImageMasker(segments="grid", grid=2, hide="segment_mean").prepare(img).state[1]
    np.testing.assert_allclose(seg_mean[:8, :8], img[:8, :8].mean(axis=(0, 1)) * np.ones((8, 8, 3)), rtol=1e-5)
    assert ImageMasker(segments="grid", hide="zero").prepare(img).state[1].max() == 0


def test_bad_settings_name_the_argument():
    with pytest.raises(InvalidArgumentError, match="segments"):
        ImageMasker(segments="watershed")
    with pytest.raises(InvalidArgumentError, match="hide"):
        ImageMasker(hide="noise")
    with pytest.raises(InvalidArgumentError, match="hide"):
        ImageMasker(hide=(2.0, 0, 0))
    with pytest.raises(InvalidArgumentError, match="grid"):
        ImageMasker(grid=0)
    masker = ImageMasker(segments="grid", grid=2)
    with pytest.raises(InvalidArgumentError, match="one value per segment"):
        masker.to_pixels(picture(), np.ones(3))


class QuadrantModel(nn.Module):
    """Logit 1 = sum_q c_q * (mean of quadrant q's pixels); logit 0 = 0. Additive over 2 x 2 grid patches."""

    coef = torch.tensor([3.0, -1.0, 0.5, 2.0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2] // 2, x.shape[3] // 2
        q = torch.stack([x[:, :, :h, :w].mean((1, 2, 3)), x[:, :, :h, w:].mean((1, 2, 3)),
                         x[:, :, h:, :w].mean((1, 2, 3)), x[:, :, h:, w:].mean((1, 2, 3))], 1)
        return torch.stack([torch.zeros(len(x)), q @ self.coef], 1)


def test_perturbation_methods_recover_an_additive_model_over_patches():
    adapter = ImageAdapter(QuadrantModel(), image_size=(16, 16), class_names=["zero", "sum"])
    masker = ImageMasker(segments="grid", grid=2, hide="zero")
    img = picture(2)
    quads = np.array([img[:8, :8].mean(), img[:8, 8:].mean(), img[8:, :8].mean(), img[8:, 8:].mean()])
    expected = QuadrantModel.coef.numpy() * quads  # each patch's own term: its Shapley value and occlusion drop
    for method in (Occlusion(adapter, masker=masker), ExactShapley(adapter, masker=masker),
                   KernelSHAP(adapter, masker=masker, n_evals=16), LIME(adapter, masker=masker, n_evals=64, alpha=1e-9)):
        e = method.attribute(img, target="sum")
        np.testing.assert_allclose(e.values, expected, rtol=1e-3, atol=1e-4, err_msg=method.name)
    painted = masker.to_pixels(img, expected)
    assert painted.shape == (16, 16) and painted[0, 0] == expected[0] and painted[15, 15] == expected[3]


def test_default_masker_of_an_image_adapter_is_superpixels():
    adapter = ImageAdapter(QuadrantModel(), image_size=(16, 16))
    assert isinstance(adapter.default_masker(), ImageMasker)
    e = Occlusion(adapter).attribute(picture(3), target=1)
    assert all(label.startswith("segment ") for label in e.features)


def test_quickshift_segments_a_photo():
    img = (lumos.zoo.dataset("skimage-photos")["chelsea"][::6, ::6] / 255.0).astype(np.float32)
    masker = ImageMasker(segments="quickshift")
    p = masker.prepare(img)
    assert set(np.unique(p.state[0])) == set(range(p.n_features)) and p.n_features > 5
    np.testing.assert_array_equal(masker.prepare(img).state[0], p.state[0])  # deterministic


def test_small_images_default_to_grid_patches():
    adapter = ImageAdapter(QuadrantModel(), image_size=(8, 8))
    p = adapter.default_masker().prepare(picture(4, (8, 8, 3)))
    assert p.n_features == 16
