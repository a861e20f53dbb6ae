"""The Ray engine of dataset jobs (``pip install lumos[ray]``): the shards still to do become a Ray Dataset,
and ``map_batches`` sends them to a pool of actors (``compute=ActorPoolStrategy``), each holding one model
replica loaded once (from the zoo's cache). An actor reads its shard's rows from the dataset file (from the
shard's seek point, found by the driver's counting pass, so the file must be readable on every node), explains
them with :class:`~lumos.jobs.ShardWorker` (the same code as the local engine) and writes the shard's Parquet
file itself, atomically, under its fixed name; the driver records each finished shard in the manifest as it
arrives. File names, row order and values are therefore those of the local engine, whatever the number of
actors or the order they finish in.

Ray is imported only here, and only when a job asks for it: ``import lumos`` and every other command work
without it.

Traps this avoids (seen on small machines): actors ask for a fraction of a CPU (``num_cpus=0.5``), so a pool
never takes every CPU slot and starves Ray Data's own tasks (ray-project/ray#44687); a local Ray started here
gets a small object store, no dashboard and no usage statistics (``RAY_USAGE_STATS_ENABLED=0``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..engine import track
from ..errors import InvalidArgumentError, LumosError, check_float, check_int
from .data import DataSource
from .run import JobSpec, ShardWorker, record_shard

__all__ = ["run_ray", "ACTOR_CPUS"]

#: CPUs each actor asks for: a fraction, so that the pool leaves slots for Ray Data's tasks.
ACTOR_CPUS = 0.5
#: Object store of a local Ray started by lumos (bytes): shard descriptors and manifest entries are small.
OBJECT_STORE_BYTES = 96 * 1024 * 1024


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InvalidArgumentError("The 'ray' engine needs Ray: `pip install lumos[ray]` (ray[data]==2.60.0). "
                                   "The default engine, 'local', needs nothing more.") from None
    return ray


class ShardActor:
    """One Ray actor of a job: a model replica (loaded once, in ``__init__``) that explains whole shards."""

    def __init__(self, spec: dict[str, Any], out: str, on_error: str, threads: int | None = None,
                 gpus: float = 0.0) -> None:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        self.spec = JobSpec.from_dict(spec)
        import torch

        # An actor that asked for a GPU (num_gpus) sees the ones Ray gave it as cuda:0, ...
        self.worker = ShardWorker(self.spec, device="cuda" if gpus and torch.cuda.is_available() else None)
        self.source = DataSource(self.spec.data, self.spec.column)
        self.out = Path(out)
        self.on_error = on_error

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        shards, entries, errors = [], [], []
        size = self.spec.shard_size
        for k, offset, lines in zip(batch["shard"].tolist(), batch["offset"].tolist(), batch["lines"].tolist()):
            at = (offset, lines) if offset >= 0 else None
            rows = list(self.source.rows(k * size, (k + 1) * size, at=at))
            try:
                entries.append(json.dumps(self.worker.run_shard(k, rows, self.out, self.on_error)))
                errors.append("")
            except LumosError as error:  # a bad row: reported by the driver, not retried by Ray
                entries.append("")
                errors.append(str(error))
            shards.append(k)
        return {"shard": np.array(shards, dtype=np.int64), "entry": np.array(entries, dtype=object),
                "error": np.array(errors, dtype=object)}


def start_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Connect to the Ray at ``address``, or start a small local one; True when this call started it."""
    ray = _ray()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Workers must import this lumos (an editable checkout may not be the installed one).
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    runtime_env = {"env_vars": {"PYTHONPATH": path, "RAY_USAGE_STATS_ENABLED": "0"}}
    if address is not None:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus or os.cpu_count() or 2, object_store_memory=OBJECT_STORE_BYTES,
                 include_dashboard=False, log_to_driver=False, runtime_env=runtime_env)
    return True


def run_ray(spec: JobSpec, todo: list[int], out: Path, manifest: dict[str, Any], on_error: str, *,
            marks: dict[int, tuple[int, int]] | None = None, address: str | None = None, num_workers: int = 1,
            num_gpus: float = 0.0, threads: int | None = None, progress: bool | None = None) -> None:
    """Run the shards ``todo`` on a Ray actor pool of ``num_workers`` actors, recording each in the manifest."""
    num_workers = check_int(num_workers, "num_workers", owner="the ray engine", minimum=1)
    num_gpus = check_float(num_gpus, "num_gpus", owner="the ray engine", minimum=0.0)
    ray = _ray()
    started = start_ray(address)
    try:
        from ray.data import ActorPoolStrategy

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.execution_options.preserve_order = True
        # Each shard goes with the seek point of its first row, so an actor reads its rows only.
        marks = marks or {}
        items = ray.data.from_items([{"shard": k, "offset": marks.get(k * spec.shard_size, (-1, 0))[0],
                                      "lines": marks.get(k * spec.shard_size, (-1, 0))[1]} for k in todo],
                                    override_num_blocks=len(todo))
        results = items.map_batches(
            ShardActor, batch_size=1, compute=ActorPoolStrategy(size=num_workers), num_cpus=ACTOR_CPUS,
            num_gpus=num_gpus or None, batch_format="numpy",
            fn_constructor_kwargs={"spec": spec.to_dict(), "out": str(out.resolve()), "on_error": on_error,
                                   "threads": threads, "gpus": num_gpus})
        n = manifest["n_examples"]
        total = sum(min((k + 1) * spec.shard_size, n) - k * spec.shard_size for k in todo)

        def examples() -> Iterator[int]:
            for row in results.iter_rows():
                if row["error"]:
                    raise InvalidArgumentError(row["error"])
                k = int(row["shard"])
                record_shard(out, manifest, k, json.loads(row["entry"]))
                yield from range(k * spec.shard_size, min((k + 1) * spec.shard_size, n))

        for _ in track(examples(), description="Explaining examples (ray)", total=total, enabled=progress):
            pass
    finally:
        if started:
            ray.shutdown()
