"""Dataset jobs: explain every example of a dataset file into Parquet shards, resumably, on the local engine
(in-process, streaming) or on Ray (:mod:`lumos.jobs.ray_engine`).

Sharding is fixed by the example ids: shard ``k`` holds ids ``[k * shard_size, (k + 1) * shard_size)``.
Inside a shard the examples go to the methods in fixed groups of ``group_size`` consecutive ids (group
``g`` holds ids ``[g * group_size, (g + 1) * group_size)``), and a method's random draws are seeded by
``seed`` and the example's content (:func:`lumos.engine.example_rng`), so an example's explanation is the
same whichever engine, number of workers, or shard size (a multiple of ``group_size``) computed it.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..engine import track
from ..errors import InvalidArgumentError, LumosError, check_choice, check_int
from .data import BadRow, DataSource, Row
from .output import (FORMAT, MANIFEST, JobResult, explanations_to_table, file_sha256, read_manifest, shard_name,
                     write_json_atomic, write_table_atomic)

__all__ = ["JobSpec", "ShardWorker", "explain_dataset", "ENGINES", "ON_ERROR"]

ENGINES = ("local", "ray")
ON_ERROR = ("raise", "skip")


@dataclass(frozen=True)
class JobSpec:
    """What a job computes (everything that decides its results; the manifest records it).

    Parameters
    ----------
    data : str
        Path of the dataset file or image folder.
    column : str
        The column holding the inputs.
    model : str
        Zoo model name or model directory (each worker loads it once).
    methods : tuple of (name, settings) pairs
        Methods by registry name, each with its keyword settings.
    seed : int
        Seed of every sampling method (applied to the methods that take one).
    shard_size, group_size : int
        Examples per shard file, and per call of a method (``shard_size`` is a multiple of ``group_size``).
    """

    data: str
    column: str
    model: str
    methods: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]
    seed: int = 0
    shard_size: int = 256
    group_size: int = 16

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["methods"] = [[name, dict(settings)] for name, settings in self.methods]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "JobSpec":
        methods = tuple((name, tuple(sorted(settings.items()))) for name, settings in d["methods"])
        return cls(**{**d, "methods": methods})


def _method_pairs(methods: Sequence[str | tuple[str, Mapping[str, Any]]], seed: int
                  ) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    from ..attribution import get_method

    if isinstance(methods, str) or not methods:
        raise InvalidArgumentError(f"The 'methods' parameter of explain_dataset must be a non-empty list of method "
                                   f"names or (name, settings) pairs. Got {methods!r}.")
    pairs = []
    for item in methods:
        name, settings = (item, {}) if isinstance(item, str) else (item[0], dict(item[1]))
        cls = get_method(name)
        if "seed" in inspect.signature(cls.__init__).parameters:
            settings.setdefault("seed", seed)
        pairs.append((cls.name, tuple(sorted(settings.items()))))
    return tuple(pairs)


class ShardWorker:
    """Explains the examples of one shard with every method of a job: one model replica, loaded once (a Ray
    actor holds one; the local engine makes one)."""

    def __init__(self, spec: JobSpec, device: str | None = None, adapter: Any = None) -> None:
        from ..attribution import get_method
        from ..models import as_adapter

        self.spec = spec
        self.adapter = adapter if adapter is not None else as_adapter(spec.model)
        self.adapter.require("A dataset job", task="classifier")
        if device is not None:  # a Ray actor given a GPU
            self.adapter.require("A dataset job on a GPU", module=True).module.to(device)
        self.methods = [get_method(name)(self.adapter, **dict(settings), progress=False)
                        for name, settings in spec.methods]
        self.images = self.adapter.modality == "image"

    def explain(self, rows: Sequence[Row], on_error: str) -> tuple[list[tuple[int, str, Any]], list[BadRow]]:
        """``(example_id, input, explanation)`` for each row and method, in id then method order, and the rows
        that failed (raised at once with ``on_error="raise"``)."""
        out: list[tuple[int, str, Any]] = []
        bad: list[BadRow] = []
        groups: dict[int, list[Row]] = {}
        for row in rows:
            groups.setdefault(row.example_id // self.spec.group_size, []).append(row)
        for _, group in sorted(groups.items()):
            inputs, kept = [], []
            for row in group:
                try:
                    inputs.append(self._input(row))
                    kept.append(row)
                except LumosError as error:
                    bad.append(self._fail(row, error, on_error))
            if not kept:
                continue
            try:
                per_method = [list(m.attribute(inputs)) for m in self.methods]
            except LumosError as error:
                if len(kept) == 1:
                    bad.append(self._fail(kept[0], error, on_error))
                    continue
                # Find the failing examples one by one (the first one raises, with on_error="raise"); the others
                # are explained alone, the same way on every engine.
                sub_out, sub_bad = self._one_by_one(kept, inputs, on_error)
                out.extend(sub_out)
                bad.extend(sub_bad)
                continue
            for i, row in enumerate(kept):
                for explanations in per_method:
                    out.append((row.example_id, row.value, explanations[i]))
        return out, bad

    def _one_by_one(self, rows: list[Row], inputs: list[Any], on_error: str
                    ) -> tuple[list[tuple[int, str, Any]], list[BadRow]]:
        out, bad = [], []
        for row, x in zip(rows, inputs):
            try:
                explained = [m.attribute([x])[0] for m in self.methods]
            except LumosError as error:
                bad.append(self._fail(row, error, on_error))
                continue
            out.extend((row.example_id, row.value, e) for e in explained)
        return out, bad

    def _input(self, row: Row) -> Any:
        if self.images:
            from ..imaging import read_image

            return read_image(row.value)
        return row.value

    def _fail(self, row: Row, error: Exception, on_error: str) -> BadRow:
        bad = BadRow(row.example_id, self.spec.data, row.example_id + 1, None if self.images else self.spec.column,
                     f"could not be explained: {error}")
        if on_error == "raise":
            raise InvalidArgumentError(bad.message() + " Pass on_error='skip' (--on-error skip) to skip such rows.")
        return bad

    def run_shard(self, index: int, rows: Sequence[Row | BadRow], out: Path, on_error: str) -> dict[str, Any]:
        """Explain one shard's rows, write its Parquet file atomically, and return its manifest entry."""
        good = [r for r in rows if isinstance(r, Row)]
        skipped = [r for r in rows if isinstance(r, BadRow)]
        explained, failed = self.explain(good, on_error)
        skipped = sorted(skipped + failed, key=lambda r: r.example_id)
        name = shard_name(index)
        checksum = write_table_atomic(explanations_to_table(explained), out / name)
        return {"file": name, "sha256": checksum, "rows": len(explained),
                "skipped": [r.to_dict() for r in skipped]}


# -- the output directory ------------------------------------------------------------------------------------
def _is_ours(name: str) -> bool:
    return name == MANIFEST or (name.startswith("shard-") and name.endswith(".parquet")) or (
        name.startswith(".") and name.endswith(".tmp"))


def prepare_output(out: Path, manifest: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The manifest to continue from (the existing one when it is of the same job) and the shard files that were
    not trusted (corrupt, foreign or unrecorded) and removed. Refuses a directory holding anything else."""
    if out.exists() and not out.is_dir():
        raise InvalidArgumentError(f"The '--out' path {str(out)!r} is a file; a job writes a directory.")
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in out.iterdir())
    strangers = [n for n in names if not _is_ours(n)]
    if strangers:
        raise InvalidArgumentError(
            f"The '--out' directory {str(out)!r} holds files that are not a lumos job's output "
            f"({', '.join(map(repr, strangers[:5]))}{', ...' if len(strangers) > 5 else ''}); it is not overwritten. "
            "Choose a new or empty directory.")
    old = read_manifest(out)
    if old is not None:
        for key in ("params", "model_id"):
            # The data's path may change (a moved file, another working directory); its checksum may not.
            if _without_path(old.get(key)) != _without_path(manifest[key]):
                what = "model" if key == "model_id" else "parameters"
                raise InvalidArgumentError(
                    f"The '--out' directory {str(out)!r} holds the output of another job (its {what} differ: "
                    f"{_difference(old.get(key), manifest[key])}); it is not overwritten. Choose a new directory, "
                    "or run the same job again to resume it.")
        manifest = {**manifest, "shards": dict(old.get("shards", {}))}
    removed = []
    for name in names:
        if name.startswith(".") and name.endswith(".tmp"):
            (out / name).unlink(missing_ok=True)  # a write cut short
    for key, entry in list(manifest["shards"].items()):
        path = out / entry["file"]
        if not path.is_file() or file_sha256(path) != entry["sha256"]:
            del manifest["shards"][key]  # missing or corrupt: redo it
    recorded = {entry["file"] for entry in manifest["shards"].values()}
    for name in names:
        if name.startswith("shard-") and name not in recorded:
            (out / name).unlink()
            removed.append(name)
    write_json_atomic(manifest, out / MANIFEST)
    return manifest, removed


def _without_path(value: Any) -> Any:
    return {k: v for k, v in value.items() if k != "data"} if isinstance(value, dict) else value


def _difference(old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        old, new = _without_path(old), _without_path(new)
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        return "; ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in keys[:3])
    return f"{old!r} there, {new!r} now"


# -- the entry point -----------------------------------------------------------------------------------------
def explain_dataset(data: str | os.PathLike, *, methods: Sequence[str | tuple[str, Mapping[str, Any]]],
                    out: str | os.PathLike, model: str = "tweets-sentiment", column: str = "text",
                    engine: str = "local", shard_size: int = 256, group_size: int = 16, seed: int = 0,
                    on_error: str = "raise", address: str | None = None, num_workers: int = 1,
                    num_gpus: float = 0.0, threads: int | None = None, progress: bool | None = None) -> JobResult:
    """Explain every example of a dataset file with ``methods``, into Parquet shards under ``out``.

    Runs the shards not yet done (a job started again after being killed, even by SIGKILL, redoes only the
    shards whose files were not finished; shard files that do not match the manifest are redone, never
    trusted) and returns the :class:`~lumos.jobs.JobResult`, which reads the shards lazily.

    Parameters
    ----------
    data : path
        A ``.csv``, ``.parquet`` or ``.jsonl`` file, or a folder of images.
    methods : list of str or (str, dict)
        Method names (``lumos methods``), or (name, settings) pairs such as ``("ig", {"n_steps": 16})``.
    out : path
        Output directory: new, empty, or the output of this same job (to resume it).
    model : str, default "tweets-sentiment"
    column : str, default "text"
    engine : {"local", "ray"}, default "local"
        ``"local"`` runs in this process, streaming; ``"ray"`` runs shards on a Ray actor pool (``pip install
        lumos[ray]``), one model replica per actor, on a local Ray or the cluster at ``address``.
    shard_size : int, default 256
        Examples per shard (a multiple of ``group_size``).
    group_size : int, default 16
        Examples per call of a method.
    seed : int, default 0
    on_error : {"raise", "skip"}, default "raise"
        What to do with a row that cannot be read or explained: stop with an error naming the file, row and
        column, or skip it and record it in the manifest.
    address, num_workers, num_gpus :
        Ray only: cluster address (default: start a local Ray), actors, and GPUs per actor.
    threads : int, optional
        Torch threads of each worker (default: this process's count, also given to Ray actors). Gradient sums
        are reduced in an order that depends on the thread count, so bit-identical results across engines
        need the same count (values otherwise agree to about 1e-6).
    progress : bool or None
        A progress bar over examples with an ETA (None: in a terminal).

    Examples
    --------
    >>> result = explain_dataset("tweets.csv", methods=["occlusion"], out="tweets-out")     # doctest: +SKIP
    >>> result.to_pandas()[["example_id", "method", "target_label"]].head()                # doctest: +SKIP
    """
    check_choice(engine, "engine", ENGINES, owner="explain_dataset")
    check_choice(on_error, "on_error", ON_ERROR, owner="explain_dataset")
    group_size = check_int(group_size, "group_size", owner="explain_dataset", minimum=1)
    shard_size = check_int(shard_size, "shard_size", owner="explain_dataset", minimum=1)
    if shard_size % group_size:
        raise InvalidArgumentError(f"The 'shard_size' parameter of explain_dataset (--shard-size) must be a "
                                   f"multiple of 'group_size' ({group_size}), so that results do not depend on it. "
                                   f"Got {shard_size}.")
    if threads is not None:
        threads = check_int(threads, "threads", owner="explain_dataset", minimum=1)
    source = DataSource(data, column)
    spec = JobSpec(data=str(source.path.resolve()), column=column, model=model, methods=_method_pairs(methods, seed),
                   seed=seed, shard_size=shard_size, group_size=group_size)
    n, bad, marks = source.count(mark_every=shard_size)
    if bad and on_error == "raise":
        more = f" ({len(bad) - 1} more bad rows)" if len(bad) > 1 else ""
        raise InvalidArgumentError(f"{bad[0].message()}{more}. Pass on_error='skip' (--on-error skip) to skip such "
                                   "rows and record them in the manifest.")
    from ..models import as_adapter

    adapter = as_adapter(model)  # the model id and class names; a Ray job's actors load their own replicas
    adapter.require("A dataset job", task="classifier")
    n_shards = -(-n // shard_size)
    manifest = {"format": FORMAT, "kind": "explain",
                "params": {**spec.to_dict(), "data_sha256": source.fingerprint()},
                "model_id": adapter.model_id, "class_names": list(adapter.class_names), "n_examples": n,
                "n_shards": n_shards, "on_error": on_error, "shards": {}}
    out = Path(out)
    manifest, _ = prepare_output(out, manifest)
    todo = [k for k in range(n_shards) if str(k) not in manifest["shards"]]
    import torch

    if todo and engine == "local":
        before = torch.get_num_threads()
        torch.set_num_threads(threads or before)
        try:
            _run_local(spec, source, todo, out, manifest, on_error, progress,
                       worker=ShardWorker(spec, adapter=adapter), at=marks.get(min(todo) * shard_size))
        finally:
            torch.set_num_threads(before)
    elif todo:
        from .ray_engine import run_ray

        run_ray(spec, todo, out, manifest, on_error, marks=marks, address=address, num_workers=num_workers,
                num_gpus=num_gpus, threads=threads or torch.get_num_threads(), progress=progress)
    return JobResult(out)


def record_shard(out: Path, manifest: dict[str, Any], index: int, entry: dict[str, Any]) -> None:
    """Add a finished shard to the manifest and rewrite it atomically."""
    manifest["shards"][str(index)] = entry
    write_json_atomic(manifest, out / MANIFEST)


def shard_rows(rows: Iterable[Row | BadRow], shard_size: int) -> Iterator[tuple[int, list[Row | BadRow]]]:
    """Group a stream of rows into ``(shard index, rows)``, one shard in memory at a time."""
    current, buffer = None, []
    for row in rows:
        k = row.example_id // shard_size
        if k != current and buffer:
            yield current, buffer
            buffer = []
        current = k
        buffer.append(row)
    if buffer:
        yield current, buffer


def _run_local(spec: JobSpec, source: DataSource, todo: list[int], out: Path, manifest: dict[str, Any],
               on_error: str, progress: bool | None, worker: ShardWorker,
               at: tuple[int, int] | None = None) -> None:
    wanted = set(todo)
    start, stop = min(todo) * spec.shard_size, (max(todo) + 1) * spec.shard_size
    n_todo = sum(min((k + 1) * spec.shard_size, manifest["n_examples"]) - k * spec.shard_size for k in todo)
    rows = (r for r in source.rows(start, stop, at=at) if r.example_id // spec.shard_size in wanted)
    t0 = time.perf_counter()
    for index, shard in shard_rows(track(rows, description="Explaining examples", total=n_todo, enabled=progress),
                                   spec.shard_size):
        entry = worker.run_shard(index, shard, out, on_error)
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        record_shard(out, manifest, index, entry)
        t0 = time.perf_counter()
