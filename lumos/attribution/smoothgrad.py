"""SmoothGrad: average any gradient method over noisy copies of the input."""

from __future__ import annotations

from typing import Any

import torch

from ..engine import example_rng
from ..errors import InvalidTypeError, check_choice, check_float, check_int
from .base import MAX_STEPS, GradientMethod, Score
from .registry import register_method

__all__ = ["SmoothGrad"]


@register_method("smoothgrad", aliases=("smooth_grad", "noise_tunnel"))
class SmoothGrad(GradientMethod):
    """Average a gradient method over ``n_samples`` copies of the input with Gaussian noise on its
    features (Smilkov et al., 2017).

    The noise's standard deviation is ``noise_level * (max(x) - min(x))`` over the example's feature
    values (for text, its tokens' embeddings); special tokens and padding are never perturbed. Noise for
    each example is drawn from a generator seeded by ``seed`` and the example's content, so an example gets
    the same values alone, in any batch and at any position.

    Parameters
    ----------
    method : GradientMethod or model
        The method to smooth (e.g. ``Saliency(model)``, ``IntegratedGradients(model)``); a model, adapter
        or zoo name means ``Saliency(model)``.
    n_samples : int, default 16
    noise_level : float, default 0.1
    kind : {"smoothgrad", "smoothgrad_sq", "vargrad"}, default "smoothgrad"
        Mean of the attributions, mean of their squares, or their variance.
    seed : int, default 0
    batch_size, progress
        As for every gradient method.

    References
    ----------
    Smilkov, Thorat, Kim, Viegas, Wattenberg. SmoothGrad: removing noise by adding noise. arXiv:1706.03825,
    2017. Adebayo et al. Local Explanation Methods for Deep Neural Networks Lack Sensitivity to Parameter
    Values (VarGrad). ICLR workshop 2018.

    Examples
    --------
    >>> from lumos import IntegratedGradients, SmoothGrad
    >>> SmoothGrad(IntegratedGradients("tweets-sentiment", n_steps=16), n_samples=8).attribute("late again")  # doctest: +SKIP
    """

    def __init__(self, method: Any, *, n_samples: int = 16, noise_level: float = 0.1, kind: str = "smoothgrad",
                 seed: int = 0, batch_size: int | None = None, progress: bool | None = None) -> None:
        if not isinstance(method, GradientMethod):
            from .saliency import Saliency

            method = Saliency(method)
        if isinstance(method, SmoothGrad):
            raise InvalidTypeError("The 'method' parameter of SmoothGrad must be a gradient method other than "
                                   "SmoothGrad itself.")
        self.inner = method
        self.adapter = method.adapter
        self.baseline, self.output = method.baseline, method.output
        self.contrast, self.sources = method.contrast, method.sources
        self.uses_baseline = method.uses_baseline
        self.batch_size = check_int(batch_size if batch_size is not None else method.batch_size, "batch_size",
                                    owner="SmoothGrad", minimum=1)
        self.progress = progress
        self.n_samples = check_int(n_samples, "n_samples", owner="SmoothGrad", minimum=1, maximum=MAX_STEPS)
        self.noise_level = check_float(noise_level, "noise_level", owner="SmoothGrad", minimum=0.0)
        self.kind = check_choice(kind, "kind", ("smoothgrad", "smoothgrad_sq", "vargrad"), owner="SmoothGrad")
        self.seed = check_int(seed, "seed", owner="SmoothGrad", minimum=0)

    def params(self) -> dict[str, Any]:
        return {**self.inner.params(), "inner": self.inner.name, "n_samples": self.n_samples,
                "noise_level": self.noise_level, "kind": self.kind, "seed": self.seed}

    def attribute_tensor(self, score: Score, x: torch.Tensor, x0: torch.Tensor, targets: torch.Tensor
                         ) -> torch.Tensor:
        mask = score.encoded.feature_mask  # (B, T)
        noise = self._noise(x, mask, score.fingerprints)  # (S, B, T, ...)
        total = total_sq = 0.0  # x.shape, or (K, *x.shape) for K readouts per example
        for s in range(self.n_samples):
            a = self.inner.attribute_tensor(score, x + noise[s], x0, targets).double()
            total = total + a
            total_sq = total_sq + a * a
        mean, mean_sq = total / self.n_samples, total_sq / self.n_samples
        if self.kind == "smoothgrad":
            return mean
        if self.kind == "smoothgrad_sq":
            return mean_sq
        return mean_sq - mean * mean

    def _noise(self, x: torch.Tensor, mask: torch.Tensor, fingerprints: tuple[bytes, ...]) -> torch.Tensor:
        noise = torch.zeros((self.n_samples,) + tuple(x.shape), dtype=x.dtype)
        for i in range(x.shape[0]):
            positions = mask[i].nonzero().squeeze(1).cpu()
            values = x[i, positions.to(x.device)]
            sigma = self.noise_level * float(values.max() - values.min()) if values.numel() else 0.0
            rng = example_rng(self.seed, fingerprints[i])
            draw = rng.standard_normal((self.n_samples, len(positions)) + tuple(x.shape[2:]))
            noise[:, i, positions] = torch.as_tensor(draw * sigma, dtype=x.dtype)
        return noise.to(x.device)
