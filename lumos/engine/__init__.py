"""Shared machinery for running models: the batcher (the in-process executor), batching by size,
per-example seeding and progress reporting. Nothing here imports the rest of lumos, so every layer may use it."""

from .batcher import Batcher
from .batching import batches_by_size, example_rng
from .cache import cached_tensors
from .files import atomic_path, write_text_atomic
from .progress import track

__all__ = ["Batcher", "batches_by_size", "example_rng", "track", "atomic_path", "write_text_atomic", "cached_tensors"]
