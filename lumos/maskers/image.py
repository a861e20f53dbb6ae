"""Image masker: features are superpixels (SLIC, quickshift) or grid patches; hidden ones take a baseline."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidArgumentError, check_choice, check_float, check_int
from ..imaging import blur, to_image
from .base import Masker, Prepared

__all__ = ["ImageMasker", "segment"]

_HIDE = ("blur", "mean", "segment_mean", "zero")


def segment(image: np.ndarray, method: str = "slic", *, n_segments: int = 50, grid: int = 7,
            compactness: float = 10.0, seed: int = 0) -> np.ndarray:
    """Integer segment labels (H, W), numbered 0..k-1 in raster order of first appearance.

    ``"slic"``: SLIC superpixels (Achanta et al., TPAMI 2012) with about ``n_segments`` segments;
    ``"quickshift"``: quickshift (Vedaldi & Soatto, ECCV 2008; the segmentation LIME uses for images); ``"grid"``: ``grid x grid``
    equal patches.
    """
    method = check_choice(method, "segments", ("slic", "quickshift", "grid"), owner="ImageMasker")
    h, w = image.shape[:2]
    if method == "grid":
        rows = np.minimum(np.arange(h) * grid // h, grid - 1)
        cols = np.minimum(np.arange(w) * grid // w, grid - 1)
        labels = rows[:, None] * grid + cols[None, :]
    elif method == "slic":
        from skimage.segmentation import slic

        multichannel = image.shape[-1] == 3
        img = image if multichannel else image[..., 0]
        labels = slic(img, n_segments=n_segments, compactness=compactness, start_label=0,
                      channel_axis=-1 if multichannel else None)
    else:
        from skimage.segmentation import quickshift

        img = image if image.shape[-1] == 3 else np.repeat(image, 3, axis=-1)
        labels = quickshift(img.astype(np.float64), kernel_size=4, max_dist=10, ratio=0.5, rng=seed)  # ~70 on 224 x 224
    # Renumber by first appearance, so labels are dense and stable.
    _, first, inverse = np.unique(labels.ravel(), return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse].reshape(h, w)


class ImageMasker(Masker):
    """Hide segments of an image by replacing their pixels with a baseline image.

    Parameters
    ----------
    segments : {"slic", "quickshift", "grid"}, default "slic"
        How the image splits into features (see :func:`segment`).
    n_segments : int, default 50
        Approximate number of SLIC superpixels.
    grid : int, default 7
        Patches per side for ``"grid"``.
    hide : {"blur", "mean", "segment_mean", "zero"} or float or sequence of float, default "blur"
        What a hidden segment shows: the image blurred (Gaussian, sigma = longer side / 16), the image's mean
        colour, each segment's own mean colour (LIME's choice), black, or a given colour in [0, 1].
    compactness : float, default 10
        SLIC's trade-off between colour and space.

    Examples
    --------
    >>> masker = ImageMasker(segments="grid", grid=4)                       # doctest: +SKIP
    >>> p = masker.prepare(image); p.n_features                             # doctest: +SKIP
    16
    """

    def __init__(self, segments: str = "slic", *, n_segments: int = 50, grid: int = 7,
                 hide: str | float | Sequence[float] = "blur", compactness: float = 10.0) -> None:
        owner = "ImageMasker"
        self.segments = check_choice(segments, "segments", ("slic", "quickshift", "grid"), owner=owner)
        self.n_segments = check_int(n_segments, "n_segments", owner=owner, minimum=2)
        self.grid = check_int(grid, "grid", owner=owner, minimum=1)
        self.compactness = check_float(compactness, "compactness", owner=owner, minimum=0.0)
        if isinstance(hide, str):
            self.hide: Any = check_choice(hide, "hide", _HIDE, owner=owner)
        else:
            colour = np.atleast_1d(np.asarray(hide, dtype=np.float32))
            if colour.ndim != 1 or len(colour) not in (1, 3) or colour.min() < 0 or colour.max() > 1:
                raise InvalidArgumentError(f"The 'hide' parameter of ImageMasker must be one of {', '.join(_HIDE)} "
                                           f"or a colour (1 or 3 values in [0, 1]). Got {hide!r}.")
            self.hide = colour

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Segment labels (H, W) of an (H, W, C) image in [0, 1]."""
        return segment(image, self.segments, n_segments=self.n_segments, grid=self.grid,
                       compactness=self.compactness)

    def background(self, image: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The image a fully hidden input shows, (H, W, C)."""
        if isinstance(self.hide, np.ndarray):
            return np.broadcast_to(self.hide, image.shape).astype(np.float32).copy()
        if self.hide == "zero":
            return np.zeros_like(image)
        if self.hide == "mean":
            return np.broadcast_to(image.reshape(-1, image.shape[-1]).mean(0), image.shape).astype(np.float32).copy()
        if self.hide == "segment_mean":
            k = int(labels.max()) + 1
            flat = image.reshape(-1, image.shape[-1])
            sums = np.zeros((k, image.shape[-1]))
            np.add.at(sums, labels.ravel(), flat)
            means = sums / np.bincount(labels.ravel(), minlength=k)[:, None]
            return means[labels].astype(np.float32)
        return blur(image)

    def prepare(self, example: Any) -> Prepared:
        """Segment one image: an (H, W[, C]) array (uint8, or floats in [0, 1]), a PIL image or a path. The image
        adapter's prepared images (already at the model's size) are used as they are."""
        raw = np.asarray(example) if isinstance(example, np.ndarray) else example
        channels = raw.shape[-1] if isinstance(raw, np.ndarray) and raw.ndim == 3 and raw.shape[-1] in (1, 3) else 3
        if isinstance(raw, np.ndarray) and raw.ndim == 2:
            channels = 1
        image = to_image(example, channels=channels, owner="ImageMasker")
        labels = self.segment(image)
        k = int(labels.max()) + 1
        return Prepared(example=image, labels=tuple(f"segment {i}" for i in range(k)),
                        state=(labels, self.background(image, labels)))

    def apply(self, prepared: Prepared, masks: np.ndarray) -> list[np.ndarray]:
        labels, background = prepared.state
        masks = np.asarray(masks, dtype=bool)
        out = []
        for mask in masks:
            shown = mask[labels][..., None]  # (H, W, 1)
            out.append(np.where(shown, prepared.example, background).astype(np.float32))
        return out

    def to_pixels(self, image_or_prepared: Any, values: Any) -> np.ndarray:
        """Per-segment values (an explanation's ``values``) painted onto the segments: an (H, W) map."""
        prepared = image_or_prepared if isinstance(image_or_prepared, Prepared) else self.prepare(image_or_prepared)
        values = np.asarray(getattr(values, "values", values), dtype=np.float64)
        if values.shape != (prepared.n_features,):
            raise InvalidArgumentError(f"The 'values' must have one value per segment ({prepared.n_features}). "
                                       f"Got shape {values.shape}.")
        return values[prepared.state[0]]
