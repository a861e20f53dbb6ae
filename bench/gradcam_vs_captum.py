"""lumos Grad-CAM against Captum's LayerGradCam on EfficientNet-Lite0 and the scikit-image photos.

Both sides explain the same photos (``skimage-photos``: chelsea, coffee, astronaut, rocket, resized to 224 x
224 by the lumos adapter) for the same target (the predicted class), at the same layer (the zoo model's
``features``: 1280 x 7 x 7 after the head convolution, batch norm and ReLU6), on the same normalised input.
Captum's map is taken at the layer's resolution (``LayerGradCam``, ReLU applied) and upsampled with the same
bilinear resizing (``LayerAttribution.interpolate``). Reported: the largest absolute difference and the
Pearson correlation of the two 224 x 224 maps per photo, the cat's top-decile share inside the box of the
acceptance test, and seconds per photo (median of ``--repeats`` rounds after a warm-up, one process, same
thread count).

Run: ``python bench/gradcam_vs_captum.py [--repeats 3] [--out bench/out]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import lumos
from lumos.attribution import GradCAM
from lumos.models.vision import pixel_map

CAT_BOX = (40, 200, 30, 180)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="bench/out")
    args = parser.parse_args(argv)
    from captum.attr import LayerAttribution, LayerGradCam

    model = lumos.zoo.load("imagenet-efficientnet-lite0")
    photos = lumos.zoo.dataset("skimage-photos")
    examples = model.split_inputs(list(photos.images))[0]
    ours = GradCAM(model, progress=False)
    layer = model.model.get_submodule(ours.layer)
    theirs = LayerGradCam(model.model, layer)

    def run_lumos(img):
        return pixel_map(ours.attribute(img))

    def run_captum(img):
        x = model._normalise(torch.as_tensor(img)[None])
        target = int(model.model(x).argmax(1))
        small = theirs.attribute(x, target=target, relu_attributions=True)
        return LayerAttribution.interpolate(small, model.image_size, "bilinear")[0, 0].detach().double().numpy()

    rows = []
    for name, img in zip(photos.names, examples):
        a, b = run_lumos(img), run_captum(img)
        r0, r1, c0, c1 = CAT_BOX
        top = np.where(a >= np.quantile(a, 0.9), a, 0.0)
        rows.append({"photo": name, "max_abs_diff": float(np.abs(a - b).max()), "max_value": float(a.max()),
                     "pearson": float(np.corrcoef(a.ravel(), b.ravel())[0, 1]),
                     "top_decile_share_in_cat_box": float(top[r0:r1, c0:c1].sum() / top.sum())
                     if name == "chelsea" else None})
    timings = {"lumos": [], "captum": []}
    for _ in range(args.repeats):
        for side, fn in (("lumos", run_lumos), ("captum", run_captum)):
            t0 = time.perf_counter()
            for img in examples:
                fn(img)
            timings[side].append((time.perf_counter() - t0) / len(examples))
    result = {"title": "Grad-CAM vs Captum LayerGradCam (EfficientNet-Lite0, skimage photos)",
              "rows": rows, "seconds_per_photo": {k: statistics.median(v) for k, v in timings.items()},
              "threads": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gradcam_vs_captum.json").write_text(json.dumps(result, indent=2))
    for row in rows:
        print(f"{row['photo']:10s} max|diff| {row['max_abs_diff']:.2e} (max value {row['max_value']:.3g}) "
              f"pearson {row['pearson']:.6f}" + (f"  cat top-decile share {row['top_decile_share_in_cat_box']:.3f}"
                                                 if row["top_decile_share_in_cat_box"] is not None else ""))
    print("seconds per photo:", {k: round(v, 3) for k, v in result["seconds_per_photo"].items()},
          f"({result['threads']} threads)")
    return result


if __name__ == "__main__":
    main()
