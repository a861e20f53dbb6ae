"""Grad-CAM and Grad-CAM++: class activation maps from the gradients at a convolutional layer.

For a layer with feature maps ``A_k`` (k = channels, spatial positions ij) and the explained score ``y``:

* Grad-CAM (Selvaraju et al., ICCV 2017): ``w_k = mean_ij dy/dA_k,ij``, map ``ReLU(sum_k w_k A_k)``.
* Grad-CAM++ (Chattopadhay et al., WACV 2018): ``w_k = sum_ij alpha_k,ij ReLU(dy/dA_k,ij)`` with
  ``alpha = g^2 / (2 g^2 + sum_ij A_k,ij g^3)`` (g = dy/dA; the closed form that assumes y = exp(score)).

The map is upsampled bilinearly to the input's size and returned as one value per pixel, so it is an
:class:`~lumos.Explanation` like any other (``lumos.models.vision.pixel_map`` turns it back into an image).
Direction: larger = more evidence for the target class; the ReLU keeps only positive evidence.
For a network whose head is global average pooling and a linear layer on the chosen layer, Grad-CAM equals
the class activation map (Zhou et al., CVPR 2016) divided by the number of positions.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ..errors import InvalidArgumentError, UnsupportedModelError
from ..explanation import Grid
from ..models.base import Encoded, FeatureInfo
from ..models.sites import capture
from .base import GradientMethod, Score, resolve_targets
from .registry import register_method

__all__ = ["GradCAM", "GradCAMPlusPlus"]


@register_method("grad_cam", aliases=("gradcam",))
class GradCAM(GradientMethod):
    """Grad-CAM at a named convolutional layer of an image model.

    Parameters
    ----------
    model : image adapter, module or zoo name
        A :class:`~lumos.models.ImageAdapter` (e.g. ``"imagenet-efficientnet-lite0"``).
    layer : str, optional
        Module path of the layer whose output (B, K, h, w) is used; default the adapter's ``cam_layer``
        (the last convolution, or the zoo model's final feature map).
    output : {"logit", "probability"}, default "logit"
    upsample : bool, default True
        Return one value per input pixel (bilinear); False returns the layer's h x w map, with features
        named ``"row,col"`` of that grid.
    relu : bool, default True
        Keep only positive evidence (the published method); False returns the signed map.
    batch_size : int, default 16
    progress : bool or None, default None

    References
    ----------
    Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra. Grad-CAM: Visual explanations from deep networks via
    gradient-based localization. ICCV 2017.
    """

    plus_plus: ClassVar[bool] = False

    def __init__(self, model: Any, *, layer: str | None = None, output: str = "logit", upsample: bool = True,
                 relu: bool = True, batch_size: int = 16, progress: bool | None = None) -> None:
        super().__init__(model, output=output, batch_size=batch_size, progress=progress)
        owner = type(self).__name__
        self.adapter.require(owner, modality="image")
        modules = dict(self.adapter.module.named_modules())
        layer = layer if layer is not None else self.adapter.cam_layer
        if layer is None or layer not in modules or not layer:
            convs = [n for n, m in modules.items() if isinstance(m, torch.nn.Conv2d)]
            raise InvalidArgumentError(f"The 'layer' parameter of {owner} must be a module path of the model, e.g. "
                                       f"{', '.join(map(repr, convs[-3:])) or 'a Conv2d path'}. Got {layer!r}.")
        self.layer = layer
        self.upsample = bool(upsample)
        self.relu = bool(relu)

    def params(self) -> dict[str, Any]:
        return {"layer": self.layer, "output": self.output, "upsample": self.upsample, "relu": self.relu}

    def weights(self, activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        """Channel weights (B, K) from activations and gradients (B, K, h, w)."""
        return grads.mean(dim=(2, 3))

    def maps(self, inputs: Any, target: Any = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The raw maps (B, h, w) at the layer's resolution, the targets and the probabilities, for a batch."""
        examples, _ = self.adapter.split_inputs(inputs)
        targets = resolve_targets(self.adapter, target, len(examples), type(self).__name__)
        encoded = self.adapter.encode(examples)
        with torch.no_grad():
            probs = torch.softmax(self.adapter.forward(encoded.x, encoded.extras).float(), -1)
        chosen = torch.tensor([int(p) if t is None else t for t, p in zip(targets, probs.argmax(1).tolist())],
                              device=encoded.x.device)
        score = Score(self.adapter, encoded, self.output)
        return self._cam(score, encoded.x, chosen), chosen, probs

    def _cam(self, score: Score, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The map (B, h, w) at the layer's resolution, for the rows of ``x`` (the score's batch)."""
        rows = torch.arange(x.shape[0], device=x.device)
        with torch.enable_grad(), capture(self.adapter, self.layer, detach=False) as cap:
            out = score(x, rows, targets)
            activations = cap[self.layer]
        if activations.dim() != 4:
            raise UnsupportedModelError(f"Layer {self.layer!r} outputs shape {tuple(activations.shape)}; Grad-CAM "
                                        "needs a convolutional feature map (batch, channels, height, width).")
        (grads,) = torch.autograd.grad(out.sum(), activations)
        activations, grads = activations.detach().double(), grads.double()
        cam = (self.weights(activations, grads)[:, :, None, None] * activations).sum(1)  # (B, h, w)
        return cam.clamp_min(0.0) if self.relu else cam

    def attribute_tensor(self, score: Score, x: torch.Tensor, x0: torch.Tensor, targets: torch.Tensor
                         ) -> torch.Tensor:
        """The map (B, h, w): at the input's size (bilinear) with ``upsample``, else at the layer's."""
        cam = self._cam(score, x, targets)
        if self.upsample:
            cam = F.interpolate(cam[:, None], size=self.adapter.image_size, mode="bilinear",
                                align_corners=False)[:, 0]
        return cam

    def per_feature(self, attribution: torch.Tensor, encoded: Encoded) -> tuple[torch.Tensor, list[FeatureInfo]]:
        """One value per pixel (the adapter's features), or per cell of the layer's grid."""
        b, h, w = attribution.shape
        if self.upsample:
            return attribution.reshape(b, h * w), encoded.features
        info = FeatureInfo(labels=Grid(h, w), positions=tuple(range(h * w)))
        return attribution.reshape(b, h * w), [info] * b


@register_method("grad_cam_pp", aliases=("gradcam++", "grad_cam++", "gradcampp"))
class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++: pixel-wise weighting of positive gradients (better for several instances of a class).

    Parameters are those of :class:`GradCAM`.

    References
    ----------
    Chattopadhay, Sarkar, Howlader, Balasubramanian. Grad-CAM++: Generalized gradient-based visual
    explanations for deep convolutional networks. WACV 2018.
    """

    plus_plus = True

    def weights(self, activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        g2, g3 = grads.pow(2), grads.pow(3)
        denominator = 2 * g2 + activations.sum(dim=(2, 3), keepdim=True) * g3
        alpha = torch.where(denominator.abs() > 1e-12, g2 / torch.where(denominator.abs() > 1e-12, denominator,
                                                                         torch.ones_like(denominator)),
                            torch.zeros_like(g2))
        return (alpha * grads.clamp_min(0.0)).sum(dim=(2, 3))
