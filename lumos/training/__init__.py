"""Training: the one loop (:func:`fit`) that the zoo, probes, distillation and retraining share, with progress
and TensorBoard logging in one place."""

from .loop import fit

__all__ = ["fit"]
