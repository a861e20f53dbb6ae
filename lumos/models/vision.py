"""Adapter for image classifiers: a module mapping normalised images (B, C, H, W) to logits.

One example is an image of shape (H, W, C) with values in [0, 1], resized to the model's ``image_size``.
The features are its pixels: :attr:`Encoded.x` has shape (B, H*W, C) (pixel-major, channels last), so every
gradient method (Saliency, Gradient x Input, Integrated Gradients, SmoothGrad) differentiates with respect to
pixel values in [0, 1] and sums over the colour channels, giving one value per pixel. Perturbation methods
see images through :class:`~lumos.maskers.ImageMasker` (superpixels or grid patches).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import InvalidArgumentError, InvalidTypeError, check_choice, check_int
from ..explanation import Grid
from ..imaging import blur, colorize, overlay, png_base64, read_image, to_image
from .base import Encoded, FeatureInfo, GradientAdapter

# The image helpers live in lumos.imaging; they stay importable from here, where they used to be.
__all__ = ["ImageAdapter", "pixel_map", "read_image", "to_image", "colorize", "overlay", "png_base64", "blur"]


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
    modality = "image"
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
    def module(self) -> nn.Module:
        return self.model

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

    def model_inputs(self, rows: Sequence[Any]) -> dict[str, torch.Tensor]:
        """``images`` (B, H, W, C) in [0, 1] on the model's device. Prepared images pass as they are; anything
        else (a raw photo from a masker) is prepared first."""
        shape = (*self.image_size, self.channels)
        rows = [r if isinstance(r, np.ndarray) and r.shape == shape and r.dtype == np.float32 else self.prepare(r)
                for r in rows]
        return {"images": torch.as_tensor(np.stack(rows), device=self.device)}

    def run(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self._call(inputs["images"])

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
