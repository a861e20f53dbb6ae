"""The image zoo: EfficientNet-Lite0 on the scikit-image photos (Grad-CAM finds the cat), the digits CNN
(trained reproducibly from a seed), and gradient / perturbation methods on real image models."""

from __future__ import annotations

import numpy as np
import pytest

import lumos
from lumos.attribution import GradCAM, GradCAMPlusPlus, IntegratedGradients, KernelSHAP, Saliency
from lumos.maskers import ImageMasker
from lumos.models.vision import pixel_map

# The chelsea photo (300 x 451) resized to the model's 224 x 224: the cat's face (both eyes, nose, mouth and
# the fur between them) lies in rows 40-200 and columns 30-180, checked by eye on the resized image with a
# 16-pixel grid drawn over it. The box covers 48% of the image.
CAT_BOX = (40, 200, 30, 180)  # row_start, row_stop, col_start, col_stop
CAT_CLASSES = {"tabby cat", "a cat having a striped coat", "Egyptian Mau", "Persian cat", "Siamese cat"}


@pytest.fixture(scope="module")
def efficientnet():
    return lumos.zoo.load("imagenet-efficientnet-lite0")


@pytest.fixture(scope="module")
def cat():
    return lumos.zoo.dataset("skimage-photos")["chelsea"]


def top_decile_share_in_box(cam: np.ndarray, box: tuple[int, int, int, int]) -> float:
    r0, r1, c0, c1 = box
    top = np.where(cam >= np.quantile(cam, 0.9), cam, 0.0)
    return float(top[r0:r1, c0:c1].sum() / top.sum())


def test_efficientnet_recognises_the_photos(efficientnet):
    photos = lumos.zoo.dataset("skimage-photos")
    probs = efficientnet.predict_proba(efficientnet.split_inputs(list(photos.images[:2]))[0])
    assert efficientnet.class_names[probs[0].argmax()] in CAT_CLASSES
    assert efficientnet.class_names[probs[1].argmax()] == "espresso"
    assert len(efficientnet.class_names) == 1000 == len(set(efficientnet.class_names))


def test_grad_cam_on_the_cat_highlights_the_cat(efficientnet, cat):
    e = GradCAM(efficientnet).attribute(cat)
    assert e.target_label in CAT_CLASSES and e.params["layer"] == "features"
    cam = pixel_map(e)
    assert cam.shape == (224, 224)
    share = top_decile_share_in_box(cam, CAT_BOX)
    assert share > 0.8, share  # measured 1.0; the box is 48% of the image
    pp = pixel_map(GradCAMPlusPlus(efficientnet).attribute(cat))
    assert top_decile_share_in_box(pp, CAT_BOX) > 0.7


def test_grad_cam_depends_on_the_class(efficientnet):
    """Sanity: the map for 'espresso' on the coffee photo differs from the map for an unrelated class."""
    coffee = lumos.zoo.dataset("skimage-photos")["coffee"]
    cup = pixel_map(GradCAM(efficientnet).attribute(coffee, target="espresso"))
    other = pixel_map(GradCAM(efficientnet, relu=False).attribute(coffee, target="tabby cat"))
    assert np.corrcoef(cup.ravel(), other.ravel())[0, 1] < 0.5


def test_pixel_gradients_on_efficientnet(efficientnet, cat):
    s = Saliency(efficientnet).attribute(cat)
    assert s.values.shape == (224 * 224,) and np.isfinite(s.values).all() and s.values.max() > 0


def test_digits_cnn_is_accurate_and_reproducible(tmp_path):
    from lumos.zoo import vision

    model = lumos.zoo.load("digits-cnn")
    assert model.card["test_accuracy"] > 0.9 and model.image_size == (8, 8)
    data = lumos.zoo.dataset("digits")
    pred = model.predict(model.split_inputs(data.test.images)[0]).argmax(1)
    assert (pred == data.test.labels).mean() == pytest.approx(model.card["test_accuracy"], abs=1e-9)
    # The same seed gives the same weights, bit for bit.
    a = vision.build_digits(tmp_path / "a", progress=False, epochs=1)
    b = vision.build_digits(tmp_path / "b", progress=False, epochs=1)
    assert a["train_accuracy"] == b["train_accuracy"]
    assert (tmp_path / "a" / "cnn.safetensors").read_bytes() == (tmp_path / "b" / "cnn.safetensors").read_bytes()


def test_ig_and_kernel_shap_are_complete_on_the_digits_cnn():
    model = lumos.zoo.load("digits-cnn")
    digits = list(lumos.zoo.dataset("digits").test.images[:3])
    for e in IntegratedGradients(model, n_steps=64).attribute(digits):
        assert abs(e.convergence_delta) < 0.02 * abs(e.output_value - e.base_value)
    masker = ImageMasker(segments="grid", grid=4, hide="zero")
    for e in KernelSHAP(model, masker=masker, n_evals=200).attribute(digits):
        assert e.values.shape == (16,)
        assert e.values.sum() == pytest.approx(e.output_value - e.base_value, abs=1e-6)


def test_every_attribution_method_runs_on_images():
    """Every registered method that is not attention-based explains a digit: pixels for gradient methods and
    Grad-CAM, grid patches for perturbation methods."""
    from lumos.attribution import get_method, method_names

    model = lumos.zoo.load("digits-cnn")
    digit = lumos.zoo.dataset("digits").test.images[5]
    settings = {"kernel_shap": {"n_evals": 64}, "lime": {"n_evals": 64}, "integrated_gradients": {"n_steps": 8},
                "smoothgrad": {"n_samples": 4},
                "exact_shapley": {"masker": ImageMasker(segments="grid", grid=2, hide="zero")}}  # 2^4 coalitions
    ran = []
    for name in method_names():
        cls = get_method(name)
        if cls.__module__.startswith("lumos.attention"):
            continue
        e = cls(model, **settings.get(name, {})).attribute(digit)
        assert len(e.values) in (4, 16, 64) and np.isfinite(e.values).all(), name
        ran.append(name)
    assert {"grad_cam", "saliency", "occlusion", "kernel_shap", "exact_shapley", "lime", "smoothgrad"} <= set(ran)


def test_quality_metrics_rank_image_explanations():
    """Faithfulness runs on pixel explanations through a one-patch-per-pixel masker (raw 8 x 8 digits in).
    Measured on 30 test digits: deletion AUC IG 0.048, gradient x input 0.046, saliency 0.283, Grad-CAM (4 x 4
    map upsampled) 0.49; a method that hides the right pixels first should beat one that does not."""
    from lumos.attribution import GradientXInput
    from lumos.metrics.faithfulness import faithfulness

    model = lumos.zoo.load("digits-cnn")
    digits = list(lumos.zoo.dataset("digits").test.images[:12])
    masker = ImageMasker(segments="grid", grid=8, hide="zero")
    auc = {}
    for method in (IntegratedGradients(model), GradientXInput(model), Saliency(model), GradCAM(model)):
        results = faithfulness(model, method.attribute(digits), inputs=digits, masker=masker)
        auc[method.name] = float(np.mean([r.deletion_auc for r in results]))
    assert auc["integrated_gradients"] < auc["saliency"] and auc["integrated_gradients"] < auc["grad_cam"]
    assert auc["gradient_x_input"] < auc["saliency"]
