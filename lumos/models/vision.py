"""Adapter for image classifiers: a module mapping normalised images (B, C, H, W) to logits.

One example is an image of shape (H, W, C) with values in [0, 1], resized to the model's ``image_size``.
The features are its pixels: :attr:`Encoded.x` has shape (B, H*W, C) (pixel-major, channels last), so every
gradient method (Saliency, Gradient x Input, Integrated Gradients, SmoothGrad) differentiates with respect to
pixel values in [0, 1] and sums over the colour channels, giving one value per pixel. Perturbation methods
see images through :class:`~lumos.maskers.ImageMasker` (superpixels or grid patches).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InvalidArgumentError, InvalidTypeError, check_choice, check_int
from ..explanation import Grid
from .base import Encoded, FeatureInfo, GradientAdapter

__all__ = ["ImageAdapter", "read_image", "to_image", "pixel_map", "activation_maps", "kernels", "colorize", "overlay",
           "png_base64", "plot_grid", "blur"]

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 array (alpha dropped, grey expanded).

    Raises :class:`~lumos.errors.InvalidArgumentError` naming the path when it is missing or not an image.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path).expanduser()
    if not p.is_file():
        raise InvalidArgumentError(f"The image path {str(path)!r} does not exist or is not a file.")
    try:
        with Image.open(p) as img:
            return np.asarray(img.convert("RGB"))
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


def pixel_map(explanation: Any) -> np.ndarray:
    """The values of a pixel explanation (an ImageAdapter's gradient method, or Grad-CAM) as an (H, W) map.

    The shape is read from the features' :class:`~lumos.explanation.Grid` (or, in explanations built with
    one label per pixel, from the labels ``"row,col"``); explanations over segments are mapped back to
    pixels with :meth:`lumos.maskers.ImageMasker.to_pixels` instead.
    """
    if isinstance(explanation.features, Grid):
        return np.asarray(explanation.values, dtype=np.float64).reshape(explanation.features.shape)
    last = explanation.features[-1] if explanation.features else ""
    parts = last.split(",")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise InvalidArgumentError("pixel_map needs an explanation whose features are pixels ('row,col'); this one "
                                   f"has features such as {last!r}. For segments use ImageMasker.to_pixels.")
    h, w = int(parts[0]) + 1, int(parts[1]) + 1
    return np.asarray(explanation.values, dtype=np.float64).reshape(h, w)


class ImageAdapter(GradientAdapter):
    """Wrap an image classifier ``f(x: Tensor[B, C, H, W]) -> Tensor[B, n_classes]``.

    Images are resized to ``image_size`` and normalised as ``(pixel - mean) / std`` (pixels in [0, 1])
    inside :meth:`forward`, so attributions refer to the pixels one sees.

    Parameters
    ----------
    model : torch.nn.Module
        Put in eval mode.
    image_size : (int, int)
        (H, W) the model reads.
    class_names : sequence of str, optional
        Default ``class_0 ...`` (read from a first forward pass).
    mean, std : sequence of float, optional
        Per-channel normalisation; default 0 and 1 (no normalisation).
    channels : {1, 3}, default 3
        Colour images are turned to grey (luma) for 1-channel models, grey ones repeated for 3-channel ones.
    cam_layer : str, optional
        Module path of the convolutional layer Grad-CAM uses by default (default: the last ``Conv2d``).
    batch_size : int, default 32
    name : str, optional

    Baselines: ``"zero"`` (black), ``"mean"`` (the normalisation mean colour: the network's zero input),
    ``"blur"`` (the image blurred with a Gaussian of sigma = image side / 16).
    """

    baseline_kinds: ClassVar[tuple[str, ...]] = ("zero", "mean", "blur")
    input_description = "an image (H, W[, C]) array, PIL image or path"

    def __init__(self, model: nn.Module, *, image_size: Sequence[int], class_names: Sequence[str] | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None, channels: int = 3,
                 cam_layer: str | None = None, batch_size: int = 32, name: str | None = None) -> None:
        owner = "ImageAdapter"
        if not isinstance(model, nn.Module):
            raise InvalidTypeError(f"The 'model' parameter of ImageAdapter must be a torch.nn.Module. "
                                   f"Got {type(model).__name__}.")
        if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
                or not all(isinstance(s, (int, np.integer)) and s > 0 for s in image_size)):
            raise InvalidArgumentError(f"The 'image_size' parameter of ImageAdapter must be (height, width), two "
                                       f"positive ints. Got {image_size!r}.")
        self.model = model.eval()
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.channels = check_choice(channels, "channels", (1, 3), owner=owner)
        mean = [0.0] * self.channels if mean is None else [float(m) for m in mean]
        std = [1.0] * self.channels if std is None else [float(s) for s in std]
        if len(mean) != self.channels or len(std) != self.channels or min(std) <= 0:
            raise InvalidArgumentError(f"The 'mean' and 'std' of ImageAdapter need {self.channels} values each "
                                       f"(std > 0). Got mean={mean}, std={std}.")
        self.mean, self.std = tuple(mean), tuple(std)
        self.batch_size = check_int(batch_size, "batch_size", owner=owner, minimum=1)
        self._class_names = tuple(class_names) if class_names is not None else None
        self.name = name or type(model).__name__
        modules = dict(model.named_modules())
        if cam_layer is not None and cam_layer not in modules:
            raise InvalidArgumentError(f"The 'cam_layer' of ImageAdapter must be a module path of the model. "
                                       f"Got {cam_layer!r}.")
        if cam_layer is None:
            convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)]
            cam_layer = convs[-1] if convs else None
        self.cam_layer = cam_layer
        h, w = self.image_size
        self._labels = Grid(h, w)

    # -- protocol -------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:  # type: ignore[override]
        for p in self.model.parameters():
            return p.device
        return torch.device("cpu")

    @property
    def class_names(self) -> tuple[str, ...]:  # type: ignore[override]
        if self._class_names is None:
            self.predict([np.zeros((*self.image_size, self.channels), np.float32)])
        return self._class_names  # type: ignore[return-value]

    def prepare(self, image: Any) -> np.ndarray:
        """One image as the model sees it before normalisation: float32 (H, W, C) in [0, 1], resized."""
        arr = to_image(image, channels=self.channels)
        if arr.shape[:2] != self.image_size:
            from skimage.transform import resize

            arr = resize(arr, self.image_size, order=1, anti_aliasing=True, preserve_range=True).astype(np.float32)
        return np.clip(arr, 0.0, 1.0)

    def split_inputs(self, inputs: Any) -> tuple[list[np.ndarray], bool]:
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        if isinstance(inputs, np.ndarray):
            single = inputs.ndim == 2 or (inputs.ndim == 3 and (inputs.shape[-1] in (1, 3, 4) or self.channels == 3))
            items = [inputs] if single else list(inputs)
        elif isinstance(inputs, (list, tuple)):
            single, items = False, list(inputs)
        else:
            single, items = True, [inputs]
        if not items:
            raise InvalidArgumentError("The 'inputs' parameter is empty: pass an image or a list of images.")
        examples = [self.prepare(item) for item in items]
        return examples, single

    def fingerprint(self, example: np.ndarray) -> bytes:
        return str(example.shape).encode() + np.ascontiguousarray(example).tobytes()

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) in [0, 1] -> normalised (B, C, H, W)."""
        mean = torch.tensor(self.mean, dtype=images.dtype, device=images.device)
        std = torch.tensor(self.std, dtype=images.dtype, device=images.device)
        return ((images - mean) / std).permute(0, 3, 1, 2)

    def _call(self, images: torch.Tensor) -> torch.Tensor:
        out = self.model(self._normalise(images))
        if self._class_names is None:
            self._class_names = tuple(f"class_{i}" for i in range(out.shape[-1]))
        return out

    def predict(self, examples: Sequence[np.ndarray], *, batch_size: int | None = None) -> np.ndarray:
        batch_size = batch_size or self.batch_size
        shape = (*self.image_size, self.channels)
        # Prepared images pass as they are; anything else (a raw photo from a masker) is prepared first.
        examples = [e if isinstance(e, np.ndarray) and e.shape == shape and e.dtype == np.float32 else self.prepare(e)
                    for e in examples]
        parts = []
        with torch.inference_mode():
            for start in range(0, len(examples), batch_size):
                x = torch.as_tensor(np.stack(examples[start:start + batch_size]), device=self.device)
                parts.append(self._call(x).float().cpu().numpy())
        return np.concatenate(parts)

    def encode(self, examples: Sequence[np.ndarray]) -> Encoded:
        images = torch.as_tensor(np.stack(examples), device=self.device)  # (B, H, W, C)
        b, h, w, c = images.shape
        info = FeatureInfo(labels=self._labels, positions=tuple(range(h * w)))
        mask = torch.ones((b, h * w), dtype=torch.bool, device=images.device)
        return Encoded(x=images.reshape(b, h * w, c), extras={}, feature_mask=mask, features=[info] * b)

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` of shape (B, H*W, C) back to images (B, H, W, C)."""
        return x.reshape(x.shape[0], *self.image_size, x.shape[-1])

    def forward(self, x: torch.Tensor, extras: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._call(self.images(x))

    def baseline(self, encoded: Encoded, kind: str) -> torch.Tensor:
        check_choice(kind, "baseline", self.baseline_kinds)
        if kind == "zero":
            return torch.zeros_like(encoded.x)
        if kind == "mean":
            return torch.tensor(self.mean, dtype=encoded.x.dtype, device=encoded.x.device).expand_as(encoded.x).clone()
        blurred = [blur(img.cpu().numpy()) for img in self.images(encoded.x)]
        return torch.as_tensor(np.stack(blurred), device=encoded.x.device).reshape(encoded.x.shape)

    def default_masker(self) -> Any:
        """SLIC superpixels (about 50) with blurred hidden segments; for images under 32 pixels a side, where
        superpixels degenerate to single pixels, a 4 x 4 grid of patches."""
        from ..maskers.image import ImageMasker

        if min(self.image_size) < 32:
            return ImageMasker(segments="grid", grid=4, hide="zero")
        return ImageMasker()


def blur(image: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """A Gaussian blur of an (H, W, C) image; sigma defaults to the longer side / 16."""
    from skimage.filters import gaussian

    sigma = max(image.shape[:2]) / 16 if sigma is None else sigma
    return gaussian(image, sigma=sigma, channel_axis=-1, preserve_range=True).astype(np.float32)


# -- views: activation maps, kernels, overlays ------------------------------------------------------------
def _image_adapter(model: Any, owner: str) -> "ImageAdapter":
    from . import as_adapter

    adapter = as_adapter(model)
    if not isinstance(adapter, ImageAdapter):
        raise InvalidTypeError(f"{owner} needs an image model (ImageAdapter or an image zoo model such as "
                               f"'digits-cnn'). Got a {type(adapter).__name__}.")
    return adapter


def activation_maps(model: Any, image: Any, layer: str | None = None, *, top: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The feature maps of one image at a convolutional layer: ``(maps, channels)``.

    ``maps`` has shape (K, h, w) (the layer's output for the image); ``channels`` gives the channel index of
    each map. With ``top``, only the ``top`` channels with the largest mean activation are kept, largest
    first. ``layer`` defaults to the adapter's Grad-CAM layer.
    """
    from ..representation.capture import capture

    adapter = _image_adapter(model, "activation_maps")
    layer = layer if layer is not None else adapter.cam_layer
    examples, _ = adapter.split_inputs([image])
    with capture(adapter, layer) as cap:
        adapter.predict(examples)
        value = cap[layer][0]
    if value.dim() != 3:
        raise InvalidArgumentError(f"The 'layer' {layer!r} outputs shape {tuple(value.shape)} per image; "
                                   "activation maps need (channels, height, width).")
    maps = value.float().cpu().numpy()
    channels = np.arange(maps.shape[0])
    if top is not None:
        top = check_int(top, "top", owner="activation_maps", minimum=1)
        channels = np.argsort(-maps.mean(axis=(1, 2)), kind="stable")[:top]
        maps = maps[channels]
    return maps, channels


def kernels(model: Any, layer: str | None = None) -> np.ndarray:
    """The weights of a convolution as images: shape (out_channels, kh, kw, in_channels).

    ``layer`` defaults to the model's first ``Conv2d`` (whose kernels act on pixels and can be read as
    colour patches).
    """
    adapter = _image_adapter(model, "kernels")
    modules = dict(adapter.model.named_modules())
    if layer is None:
        layer = next((n for n, m in modules.items() if isinstance(m, nn.Conv2d)), None)
    if layer not in modules or not isinstance(modules[layer], nn.Conv2d):
        convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)]
        raise InvalidArgumentError(f"The 'layer' of kernels must name a Conv2d of the model, e.g. "
                                   f"{', '.join(map(repr, convs[:3]))}. Got {layer!r}.")
    return modules[layer].weight.detach().float().cpu().permute(0, 2, 3, 1).numpy()


# Anchor colours of a perceptually ordered map (dark blue -> teal -> yellow), interpolated linearly.
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


def plot_grid(maps: np.ndarray, *, cols: int = 8, titles: Sequence[str] | None = None, path: str | Path | None = None):
    """Show (N, h, w) maps or (N, h, w, 3) kernels in a grid with matplotlib; returns the figure (saved to
    ``path`` when given). Each tile is scaled to its own range."""
    import matplotlib

    matplotlib.use("Agg") if path is not None else None
    import matplotlib.pyplot as plt

    maps = np.asarray(maps, dtype=np.float64)
    n = len(maps)
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.4 * rows), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        tile = maps[k]
        lo, hi = tile.min(), tile.max()
        tile = (tile - lo) / (hi - lo) if hi > lo else np.zeros_like(tile)
        ax.imshow(tile if tile.ndim == 2 or tile.shape[-1] == 3 else tile[..., 0], cmap="viridis")
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
