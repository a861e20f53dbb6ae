"""Views inside convolutional image models: feature maps at a layer, the kernels of a convolution, and a
grid plot of either."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from torch import nn

from ..errors import InvalidArgumentError, InvalidTypeError, check_int
from ..models import ImageAdapter, as_adapter
from ..models.sites import capture

__all__ = ["activation_maps", "kernels", "plot_grid"]


def _image_adapter(model: Any, owner: str) -> "ImageAdapter":
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
    modules = dict(adapter.module.named_modules())
    if layer is None:
        layer = next((n for n, m in modules.items() if isinstance(m, nn.Conv2d)), None)
    if layer not in modules or not isinstance(modules[layer], nn.Conv2d):
        convs = [n for n, m in modules.items() if isinstance(m, nn.Conv2d)]
        raise InvalidArgumentError(f"The 'layer' of kernels must name a Conv2d of the model, e.g. "
                                   f"{', '.join(map(repr, convs[:3]))}. Got {layer!r}.")
    return modules[layer].weight.detach().float().cpu().permute(0, 2, 3, 1).numpy()


# Anchor colours of a perceptually ordered map (dark blue -> teal -> yellow), interpolated linearly.


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
