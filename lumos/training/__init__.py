"""Training: the one loop (:func:`fit`) that the zoo, probes, distillation and retraining share, with progress
and TensorBoard logging in one place, and the cache of frozen backbones' features that heads train on."""

from .features import cached_features, feature_file
from .loop import fit

__all__ = ["fit", "cached_features", "feature_file"]
