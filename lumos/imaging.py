"""Images as lumos reads and shows them: reading files, converting arrays to float pixels in [0, 1],
blurring (a baseline and a masker's fill), colour maps, overlays and PNG encoding for reports.

Nothing here knows about models: the image adapter, the image masker and the report all build on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import InvalidArgumentError, InvalidTypeError

__all__ = ["read_image", "to_image", "blur", "colorize", "overlay", "png_base64"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


#: The largest image read, in pixels (a 50-megapixel photo). Models read a few hundred pixels a side; a larger
#: file is refused from its header, before it is decoded, so that a decompression bomb (a small file that
#: expands to gigabytes) costs nothing.
MAX_IMAGE_PIXELS = 50_000_000


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 array (alpha dropped, grey expanded).

    Raises :class:`~lumos.errors.InvalidArgumentError` naming the path when it is missing, not an image, or larger
    than :data:`MAX_IMAGE_PIXELS`.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path).expanduser()
    if not p.is_file():
        raise InvalidArgumentError(f"The image path {str(path)!r} does not exist or is not a file.")
    too_large = (f"The image {str(path)!r} is larger than the {MAX_IMAGE_PIXELS:,} pixels lumos reads (models see a "
                 "few hundred a side); resize it first.")
    try:
        with Image.open(p) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise InvalidArgumentError(f"{too_large} It is {width} x {height}.")
            return np.asarray(img.convert("RGB"))
    except Image.DecompressionBombError:  # PIL's own, larger limit, raised while reading the header
        raise InvalidArgumentError(too_large) from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidArgumentError(f"The file {str(path)!r} is not an image PIL can read (accepted: "
                                   f"{', '.join(_IMAGE_SUFFIXES)}): {exc}") from None


def to_image(value: Any, *, channels: int = 3, owner: str = "ImageAdapter") -> np.ndarray:
    """One image as float32 (H, W, channels) in [0, 1].

    Accepted: a uint8 array (values 0-255), a float array with values in [0, 1], shape (H, W) or (H, W, C)
    with C in {1, 3, 4} (alpha is dropped); a PIL image; a path to an image file.
    """
    if isinstance(value, (str, Path)):
        value = read_image(value)
    elif type(value).__module__.startswith("PIL."):
        value = np.asarray(value.convert("RGB"))
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise InvalidTypeError(f"An image for {owner} must be an array (H, W) or (H, W, C), a PIL image or a path. "
                               f"Got {type(value).__name__}.")
    arr = value
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3) or min(arr.shape[:2]) < 1:
        raise InvalidArgumentError(f"An image for {owner} must have shape (H, W) or (H, W, C) with C in 1, 3 or 4. "
                                   f"Got {value.shape}.")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise InvalidArgumentError(f"A float image for {owner} must have values in [0, 1] (or pass uint8 "
                                       f"0-255). Got values in [{lo:.3g}, {hi:.3g}].")
        arr = np.clip(arr, 0.0, 1.0)
    else:
        raise InvalidTypeError(f"An image for {owner} must be numeric. Got dtype {arr.dtype}.")
    if arr.shape[-1] == 1 and channels == 3:
        arr = np.repeat(arr, 3, axis=-1)
    elif arr.shape[-1] == 3 and channels == 1:
        arr = (arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]  # ITU-R 601 luma
    return np.ascontiguousarray(arr, dtype=np.float32)


def blur(image: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """A Gaussian blur of an (H, W, C) image; sigma defaults to the longer side / 16."""
    from skimage.filters import gaussian

    sigma = max(image.shape[:2]) / 16 if sigma is None else sigma
    return gaussian(image, sigma=sigma, channel_axis=-1, preserve_range=True).astype(np.float32)


_MAP = np.array([[0.05, 0.03, 0.25], [0.23, 0.32, 0.55], [0.13, 0.57, 0.55], [0.37, 0.79, 0.38],
                 [0.99, 0.91, 0.14]])


def colorize(values: np.ndarray, *, signed: bool = False) -> np.ndarray:
    """An (H, W) map as RGB float (H, W, 3): sequential colours (dark blue to yellow), or blue-white-red when
    ``signed`` (red: towards the class)."""
    v = np.asarray(values, dtype=np.float64)
    # Colours saturate at the 99.5th percentile, so that a few extreme pixels (common in gradient maps) do not
    # wash out the rest of the map.
    if signed:
        scale = max(float(np.quantile(np.abs(v), 0.995)), 1e-12)
        t = np.clip(v / scale, -1, 1)[..., None]
        red, blue, white = np.array([0.86, 0.15, 0.15]), np.array([0.15, 0.39, 0.92]), np.ones(3)
        return np.where(t >= 0, white + t * (red - white), white - t * (blue - white))
    lo, hi = float(v.min()), float(np.quantile(v, 0.995))
    t = np.clip((v - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(v)
    pos = t * (len(_MAP) - 1)
    i = np.clip(np.floor(pos).astype(int), 0, len(_MAP) - 2)
    frac = (pos - i)[..., None]
    return _MAP[i] * (1 - frac) + _MAP[i + 1] * frac


def overlay(image: Any, values: np.ndarray, *, alpha: float = 0.5, signed: bool = False) -> np.ndarray:
    """An attribution map blended over its image: uint8 (H, W, 3). The map is resized to the image."""
    img = to_image(image, channels=3, owner="overlay")
    heat = np.asarray(values, dtype=np.float64)
    if heat.shape != img.shape[:2]:
        from skimage.transform import resize

        heat = resize(heat, img.shape[:2], order=1, preserve_range=True)
    mixed = (1 - alpha) * img + alpha * colorize(heat, signed=signed)
    return (np.clip(mixed, 0, 1) * 255).round().astype(np.uint8)


def png_base64(image: np.ndarray, *, scale: int = 1) -> str:
    """A uint8 (H, W[, 3]) image as base64 PNG text (for ``data:image/png;base64,...`` in HTML)."""
    import base64
    import io

    from PIL import Image

    img = Image.fromarray(np.asarray(image))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")
