"""The report for image models: held-out accuracy where labels exist, and per image a saliency overlay for
each method, as inline base64 PNGs, so the page stays one self-contained file."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..engine.progress import track
from ..errors import InvalidArgumentError, check_int
from ..models.vision import ImageAdapter, overlay, pixel_map, png_base64
from ..zoo.data import load_images

__all__ = ["IMAGE_METHODS", "build_image_report", "load_images"]

#: Methods shown for image models by default, with their report settings.
IMAGE_METHODS: dict[str, dict[str, Any]] = {
    "grad_cam": {},
    "grad_cam_pp": {},
    "saliency": {},
    "integrated_gradients": {"n_steps": 16, "baseline": "blur"},
    "occlusion": {},
}

def build_image_report(adapter: ImageAdapter, *, data: str | None = None, n: int = 8,
                       out: str | Path = "lumos-report", methods: Sequence[str] | None = None,
                       batch_size: int | None = None, progress: bool | None = None) -> Path:
    """Explain ``n`` images with each method and write ``out/index.html`` with the overlays inline.

    ``batch_size``: images per model call when predicting them, default 32.
    """
    from .. import __version__
    from .build import MethodSummary, _card_rows, make_methods
    from .render import _env

    batch_size = 32 if batch_size is None else check_int(batch_size, "batch_size", owner="build_report", minimum=1)

    card = {"name": adapter.name, **adapter.card}
    data = data or card.get("dataset")
    if data is None:
        raise InvalidArgumentError("The 'data' argument is required for an image model outside the zoo: a "
                                   "directory of image files.")
    images = load_images(data, adapter.class_names)
    examples = adapter.split_inputs(images.images)[0]
    probs = adapter.predict_proba(examples, batch_size=batch_size)
    evaluation = None
    if images.labels is not None:
        pred = probs.argmax(1)
        evaluation = {"data": images.name, "n": len(examples), "accuracy": float((pred == images.labels).mean())}
    card["parameters"] = sum(p.numel() for p in adapter.model.parameters())
    card.setdefault("classes", f"{adapter.n_classes} classes")
    card.pop("class_names", None)

    instances, notes = make_methods(adapter, list(IMAGE_METHODS) if methods is None else list(methods), IMAGE_METHODS)
    chosen = examples[:n]
    scale = max(1, 160 // max(adapter.image_size))  # small images (digits) are enlarged, pixels kept sharp
    summaries, maps = [], {}
    for name, method in track(list(instances.items()), description="Explaining images", enabled=progress):
        explained = method.attribute(chosen)
        masker = getattr(method, "masker", None)
        maps[name] = [masker.to_pixels(img, e.values) if masker is not None else pixel_map(e)
                      for img, e in zip(chosen, explained)]
        cost = explained.cost
        summaries.append(MethodSummary(name=name, params=method.params(),
                                       seconds_per_explanation=cost.seconds / len(explained),
                                       evals_per_explanation=cost.n_evals / len(explained)))
    rows = []
    for i, img in enumerate(chosen):
        p = probs[i]
        top = np.argsort(-p)[:3]
        rows.append({
            "caption": images.captions[i] if i < len(images.captions) else f"#{i}",
            "label": adapter.class_names[int(images.labels[i])] if images.labels is not None else None,
            "predicted": adapter.class_names[int(p.argmax())],
            "correct": None if images.labels is None else int(p.argmax()) == int(images.labels[i]),
            "top": [{"name": adapter.class_names[j], "p": float(p[j])} for j in top],
            "image": png_base64((np.clip(img if img.shape[-1] == 3 else img[..., 0], 0, 1) * 255).round()
                                .astype(np.uint8), scale=scale),
            "overlays": [{"method": name, "png": png_base64(overlay(img, m[i], signed=bool((m[i] < 0).any())),
                                                           scale=scale)}
                         for name, m in maps.items()],
        })
    page = _env.get_template("image_report.html").render(
        title=f"lumos report: {card.get('name', adapter.name)}",
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), version=__version__,
        card=_card_rows(card), evaluation=evaluation, methods=summaries, rows=rows, notes=notes,
        css=_env.loader.get_source(_env, "report.css")[0])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
