"""Shared machinery for running models: progress reporting and (later) cross-example batching."""

from .progress import track

__all__ = ["track"]
