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

import time
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..engine import track
from ..errors import InvalidArgumentError, UnsupportedModelError, check_choice, check_int
from ..explanation import Cost, Explanation, ExplanationSet, Grid
from ..models import as_adapter
from .base import Method, _resolve_targets
from .registry import register_method

__all__ = ["GradCAM", "GradCAMPlusPlus"]


@register_method("grad_cam", aliases=("gradcam",))
class GradCAM(Method):
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
        owner = type(self).__name__
        self.adapter = as_adapter(model)
        if not hasattr(self.adapter, "image_size") or not hasattr(self.adapter, "images"):
            raise UnsupportedModelError(f"{owner} needs an image model (lumos.models.ImageAdapter); "
                                        f"{self.adapter.name!r} is a {type(self.adapter).__name__}.")
        modules = dict(self.adapter.model.named_modules())
        layer = layer if layer is not None else self.adapter.cam_layer
        if layer is None or layer not in modules or not layer:
            convs = [n for n, m in modules.items() if isinstance(m, torch.nn.Conv2d)]
            raise InvalidArgumentError(f"The 'layer' parameter of {owner} must be a module path of the model, e.g. "
                                       f"{', '.join(map(repr, convs[-3:])) or 'a Conv2d path'}. Got {layer!r}.")
        self.layer = layer
        self.output = check_choice(output, "output", ("logit", "probability"), owner=owner)
        self.upsample = bool(upsample)
        self.relu = bool(relu)
        self.batch_size = check_int(batch_size, "batch_size", owner=owner, minimum=1)
        self.progress = progress

    def params(self) -> dict[str, Any]:
        return {"layer": self.layer, "output": self.output, "upsample": self.upsample, "relu": self.relu}

    def weights(self, activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        """Channel weights (B, K) from activations and gradients (B, K, h, w)."""
        return grads.mean(dim=(2, 3))

    def maps(self, inputs: Any, target: Any = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The raw maps (B, h, w) at the layer's resolution, the targets and the probabilities, for a batch."""
        examples, _ = self.adapter.split_inputs(inputs)
        targets = _resolve_targets(self.adapter, target, len(examples), type(self).__name__)
        return self._maps(examples, targets)

    def _maps(self, examples: list, targets: list) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from ..representation.capture import capture

        adapter = self.adapter
        encoded = adapter.encode(examples)
        with torch.enable_grad(), capture(adapter, self.layer, detach=False) as cap:
            logits = adapter.forward(encoded.x, encoded.extras)
            activations = cap[self.layer]
        if activations.dim() != 4:
            raise UnsupportedModelError(f"Layer {self.layer!r} outputs shape {tuple(activations.shape)}; Grad-CAM "
                                        "needs a convolutional feature map (batch, channels, height, width).")
        probs = torch.softmax(logits.detach().float(), -1)
        chosen = torch.tensor([int(p) if t is None else t for t, p in zip(targets, probs.argmax(1).tolist())],
                              device=logits.device)
        scores = torch.softmax(logits, -1) if self.output == "probability" else logits
        score = scores.gather(1, chosen[:, None]).sum()
        (grads,) = torch.autograd.grad(score, activations)
        activations, grads = activations.detach().double(), grads.double()
        cam = (self.weights(activations, grads)[:, :, None, None] * activations).sum(1)  # (B, h, w)
        if self.relu:
            cam = cam.clamp_min(0.0)
        return cam, chosen, probs

    def attribute(self, inputs: Any, target: Any = None) -> Explanation | ExplanationSet:
        """Explain ``inputs`` (one image, or a list) for ``target`` (class index or name, one per input, or
        None for the predicted class)."""
        owner = type(self).__name__
        examples, single = self.adapter.split_inputs(inputs)
        targets = _resolve_targets(self.adapter, target, len(examples), owner)
        out: list[Explanation] = []
        for start in track(range(0, len(examples), self.batch_size), description=owner, enabled=self.progress):
            t0 = time.perf_counter()
            batch = examples[start:start + self.batch_size]
            cam, chosen, probs = self._maps(batch, targets[start:start + self.batch_size])
            h, w = cam.shape[1:]
            if self.upsample:
                cam = F.interpolate(cam[:, None], size=self.adapter.image_size, mode="bilinear",
                                    align_corners=False)[:, 0]
                h, w = self.adapter.image_size
            labels = Grid(h, w)
            seconds = (time.perf_counter() - t0) / len(batch)
            for i in range(len(batch)):
                target_i = int(chosen[i])
                out.append(Explanation(
                    values=cam[i].reshape(-1).cpu().numpy(), features=labels, target=target_i,
                    prediction=probs[i].double().cpu().numpy(), class_names=self.adapter.class_names,
                    method=self.name, params=self.params(), output=self.output,
                    cost=Cost(n_evals=1, seconds=seconds),
                ))
        return out[0] if single else ExplanationSet(out)


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
