"""The report for image models: held-out accuracy where labels exist, and per image a saliency overlay for
each method, as inline base64 PNGs, so the page stays one self-contained file."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..attribution import PerturbationMethod
from ..attribution.registry import make_methods, preset
from ..engine.progress import track
from ..errors import InvalidArgumentError, check_int
from ..models.vision import ImageAdapter, overlay, pixel_map, png_base64
from ..zoo.data import load_images
from .common import Example, MethodSummary, ReportData, card_rows

__all__ = ["IMAGE_METHODS", "build_image_report", "image_report", "load_images"]

#: Methods shown for image models by default, with their report settings: the registry's ``"image"`` preset.
IMAGE_METHODS: dict[str, dict[str, Any]] = preset("image")

def image_report(adapter: ImageAdapter, *, data: str | None = None, n: int = 8,
                 methods: Sequence[str] | None = None, batch_size: int | None = None,
                 progress: bool | None = None) -> ReportData:
    """Explain ``n`` images with each method: the report's data (kind ``"images"``), each example with its
    input and one saliency overlay per method as base64 PNGs.

    ``batch_size``: images per model call when predicting them, default 32.
    """
    from .. import __version__

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
    card["parameters"] = sum(p.numel() for p in adapter.module.parameters())
    card.setdefault("classes", f"{adapter.n_classes} classes")
    card.pop("class_names", None)

    instances, notes = make_methods(adapter, list(IMAGE_METHODS) if methods is None else list(methods), IMAGE_METHODS)
    chosen = examples[:n]
    scale = max(1, 160 // max(adapter.image_size))  # small images (digits) are enlarged, pixels kept sharp
    summaries, maps = [], {}
    for name, method in track(list(instances.items()), description="Explaining images", enabled=progress):
        explained = method.attribute(chosen)
        # A perturbation method's values are per superpixel of its masker; gradient maps are per pixel.
        maps[name] = [method.masker.to_pixels(img, e.values) if isinstance(method, PerturbationMethod)
                      else pixel_map(e) for img, e in zip(chosen, explained)]
        cost = explained.cost
        summaries.append(MethodSummary(name=name, params=method.params(),
                                       seconds_per_explanation=cost.seconds / len(explained),
                                       evals_per_explanation=cost.n_evals / len(explained)))
    rows = []
    for i, img in enumerate(chosen):
        p = probs[i]
        top = np.argsort(-p)[:3]
        rows.append(Example(
            index=i, caption=images.captions[i] if i < len(images.captions) else f"#{i}",
            label=adapter.class_names[int(images.labels[i])] if images.labels is not None else None,
            predicted=adapter.class_names[int(p.argmax())],
            correct=None if images.labels is None else int(p.argmax()) == int(images.labels[i]),
            probabilities=[{"name": adapter.class_names[j], "p": float(p[j])} for j in top],
            image=png_base64((np.clip(img if img.shape[-1] == 3 else img[..., 0], 0, 1) * 255).round()
                             .astype(np.uint8), scale=scale),
            overlays=[{"method": name, "png": png_base64(overlay(img, m[i], signed=bool((m[i] < 0).any())),
                                                         scale=scale)}
                      for name, m in maps.items()],
        ))
    return ReportData(
        kind="images", title=f"lumos report: {card.get('name', adapter.name)}",
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), version=__version__,
        card=card_rows(card), evaluation=evaluation, methods=summaries, examples=rows, notes=notes)


def build_image_report(adapter: ImageAdapter, *, data: str | None = None, n: int = 8,
                       out: str | Path = "lumos-report", methods: Sequence[str] | None = None,
                       batch_size: int | None = None, progress: bool | None = None) -> Path:
    """:func:`image_report`, written to ``out/index.html`` (default ``"lumos-report"``) with the overlays
    inline; its path."""
    from .render import write_report

    return write_report(image_report(adapter, data=data, n=n, methods=methods, batch_size=batch_size,
                                     progress=progress), out)
