"""The one batching-by-size helper and the one per-example seeding helper.

Batches of items of similar size pad little (texts of similar length); an example's random draws are seeded
by its content, so that they do not depend on where it stands in a batch.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np

__all__ = ["batches_by_size", "example_rng"]

T = TypeVar("T")


def batches_by_size(items: Sequence[T], batch_size: int, size: Callable[[T], int] = len) -> Iterator[list[int]]:
    """Indices of ``items`` in batches of at most ``batch_size``, items of similar ``size`` together.

    The sort is stable, so items of equal size keep their order (all of them, where ``size`` is constant).
    Callers put results back with the indices: ``out[idx] = f([items[i] for i in idx])``.
    """
    order = sorted(range(len(items)), key=lambda i: size(items[i]))
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def example_rng(seed: int, content: bytes, *streams: int) -> np.random.Generator:
    """A generator seeded by ``seed``, optional ``streams`` (independent draws for the same example) and the
    SHA-256 of the example's ``content`` (an adapter's ``fingerprint``)."""
    digest = hashlib.sha256(content).digest()
    return np.random.default_rng([seed, *streams, *np.frombuffer(digest, dtype=np.uint32).tolist()])
