"""Shared machinery for running models: the batcher and progress reporting."""

from .batcher import Batcher
from .progress import track

__all__ = ["Batcher", "track"]
