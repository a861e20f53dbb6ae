"""The output of a dataset job: Parquet shards, a manifest, and the reader back into lumos objects.

An output directory holds ``manifest.json`` and ``shard-00000.parquet``, ``shard-00001.parquet``, ... Shard
``k`` holds the explanations of the examples with ids in ``[k * shard_size, (k + 1) * shard_size)``, one row
per example and method, sorted by example id and then by the order the methods were asked in. Both kinds of
file are written atomically (a temporary file in the same directory, then a rename), so a reader never sees
half of one. The manifest records the job's parameters, the model id, and each finished shard's SHA-256 and
row count; a shard file counts as done only when its bytes hash to the manifest's checksum.

Shard schema (one row per example and method):

==================  =======================  ==========================================================
column              type                     meaning
==================  =======================  ==========================================================
example_id          int64                    position of the example in the dataset (0-based)
input_id            string                   identity of the input's content (``sha256:...``)
input               string                   the explained text (for an image folder: the file's path)
method              string                   registry name of the method
params              string                   the method's settings, as JSON
model_id            string                   identity of the model's weights
target              int32                    index of the explained class
target_label        string                   its name
prediction          list<float64>            the model's class probabilities
features            list<string>             feature labels (null for an image's pixel grid)
grid                list<int32>              ``[height, width]`` of a pixel grid, else null
values              list<float64>            one attribution per feature
output              string                   the explained quantity (logit, probability, ...)
output_value        float64                  its value at the input
base_value          float64                  its value at the baseline (null without one)
convergence_delta   float64                  completeness gap of IG (null otherwise)
stderr              list<float64>            standard error per value (null for exact methods)
diagnostics         string                   method diagnostics, as JSON
words               list<string>             display words of a text
word_index          list<int32>              the word of each feature
n_evals             int64                    model evaluations spent on the row
seconds             float64                  wall-clock seconds (the one column that differs between runs)
==================  =======================  ==========================================================
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from ..engine.files import atomic_path
from ..errors import InvalidArgumentError
from ..explanation import Cost, Explanation, ExplanationSet, Grid

__all__ = ["JobResult", "MANIFEST", "FORMAT", "shard_name", "explanations_to_table", "table_to_explanations",
           "write_table_atomic", "write_json_atomic", "file_sha256", "schema"]

MANIFEST = "manifest.json"
FORMAT = "lumos.job/1"


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.parquet"


def schema() -> Any:
    """The pyarrow schema of a shard (see the module's table)."""
    import pyarrow as pa

    floats, texts, ints = pa.list_(pa.float64()), pa.list_(pa.string()), pa.list_(pa.int32())
    return pa.schema([
        ("example_id", pa.int64()), ("input_id", pa.string()), ("input", pa.string()), ("method", pa.string()),
        ("params", pa.string()), ("model_id", pa.string()), ("target", pa.int32()), ("target_label", pa.string()),
        ("prediction", floats), ("features", texts), ("grid", ints), ("values", floats), ("output", pa.string()),
        ("output_value", pa.float64()), ("base_value", pa.float64()), ("convergence_delta", pa.float64()),
        ("stderr", floats), ("diagnostics", pa.string()), ("words", texts), ("word_index", ints),
        ("n_evals", pa.int64()), ("seconds", pa.float64()),
    ])


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def explanations_to_table(rows: Sequence[tuple[int, str, Explanation]]) -> Any:
    """A pyarrow Table of shard schema from ``(example_id, input, explanation)`` triples, in their order."""
    import pyarrow as pa

    columns: dict[str, list] = {name: [] for name in schema().names}
    for example_id, text, e in rows:
        if e.targets is not None:
            raise InvalidArgumentError("Dataset jobs store explanations of one decision (1-D values); explanations "
                                       "of generated sequences are not supported yet.")
        grid = e.features if isinstance(e.features, Grid) else None
        for name, value in (
                ("example_id", example_id), ("input_id", e.input_id), ("input", text), ("method", e.method),
                ("params", json.dumps(e.params, sort_keys=True)), ("model_id", e.model_id), ("target", e.target),
                ("target_label", e.target_label), ("prediction", e.prediction.tolist()),
                ("features", None if grid is not None else list(e.features)),
                ("grid", None if grid is None else [grid.height, grid.width]), ("values", e.values.tolist()),
                ("output", e.output), ("output_value", _number(e.output_value)), ("base_value", _number(e.base_value)),
                ("convergence_delta", _number(e.convergence_delta)),
                ("stderr", None if e.stderr is None else e.stderr.tolist()),
                ("diagnostics", json.dumps(e.diagnostics, sort_keys=True)),
                ("words", None if e.words is None else list(e.words)),
                ("word_index", None if e.word_index is None else list(e.word_index)),
                ("n_evals", e.cost.n_evals), ("seconds", e.cost.seconds)):
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=schema())


def table_to_explanations(table: Any, class_names: Sequence[str]) -> list[Explanation]:
    """The Explanations of a shard table (the inverse of :func:`explanations_to_table`)."""
    out = []
    for r in table.to_pylist():
        features = Grid(*r["grid"]) if r["grid"] is not None else tuple(r["features"])
        out.append(Explanation(
            values=np.array(r["values"], dtype=np.float64), features=features, target=r["target"],
            prediction=np.array(r["prediction"]), class_names=tuple(class_names), method=r["method"],
            params=json.loads(r["params"]), output=r["output"], output_value=r["output_value"],
            base_value=r["base_value"], convergence_delta=r["convergence_delta"],
            stderr=None if r["stderr"] is None else np.array(r["stderr"]),
            diagnostics=json.loads(r["diagnostics"]), cost=Cost(r["n_evals"], r["seconds"]),
            text=r["input"] if r["grid"] is None else None,
            words=None if r["words"] is None else tuple(r["words"]),
            word_index=None if r["word_index"] is None else tuple(r["word_index"]),
            model_id=r["model_id"], input_id=r["input_id"]))
    return out


# -- files ---------------------------------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def write_table_atomic(table: Any, path: Path) -> str:
    """Write ``table`` as Parquet to ``path`` through a temporary file, fsync and a rename; return its SHA-256."""
    import pyarrow.parquet as pq

    with atomic_path(path, durable=True) as tmp:
        pq.write_table(table, str(tmp), compression="zstd")
        checksum = file_sha256(tmp)
    return checksum


def write_json_atomic(data: Mapping[str, Any], path: Path) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file, fsync and a rename."""
    with atomic_path(path, durable=True) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def read_manifest(out: Path) -> dict[str, Any] | None:
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidArgumentError(f"The job manifest {str(path)!r} is not valid JSON ({error}); it was not written "
                                   "by lumos, or was damaged. Move it away to start the job afresh.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidArgumentError(f"The file {str(path)!r} is not a lumos job manifest (format {FORMAT!r}). "
                                   "Choose another '--out' directory.")
    return data


# -- the result ----------------------------------------------------------------------------------------------
class JobResult:
    """The output of a finished (or partly finished) dataset job, read lazily shard by shard.

    Parameters
    ----------
    out : str or Path
        The job's output directory.

    Examples
    --------
    >>> result = JobResult("tweets-out")                          # doctest: +SKIP
    >>> result.to_pandas().groupby("method").size()               # doctest: +SKIP
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        manifest = read_manifest(self.out)
        if manifest is None:
            raise InvalidArgumentError(f"No job output at {str(self.out)!r}: it holds no {MANIFEST}.")
        self.manifest = manifest

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.manifest["class_names"])

    @property
    def complete(self) -> bool:
        """Whether every shard of the job is done."""
        return len(self.manifest["shards"]) == self.manifest["n_shards"]

    @property
    def skipped(self) -> list[dict[str, Any]]:
        """The rows skipped under ``on_error="skip"``: example id, row, column and reason, by example id."""
        rows = [s for shard in self.manifest["shards"].values() for s in shard.get("skipped", [])]
        return sorted(rows, key=lambda s: s["example_id"])

    def shard_paths(self) -> list[Path]:
        """The finished shards' files, in shard order, each checked against its manifest checksum."""
        paths = []
        for key in sorted(self.manifest["shards"], key=int):
            entry = self.manifest["shards"][key]
            path = self.out / entry["file"]
            if not path.is_file() or file_sha256(path) != entry["sha256"]:
                raise InvalidArgumentError(f"The shard {str(path)!r} is missing or does not match the checksum in "
                                           f"the manifest; run the job again to redo it.")
            paths.append(path)
        return paths

    def iter_tables(self) -> Iterator[Any]:
        """One pyarrow Table per shard, in order (one shard in memory at a time)."""
        import pyarrow.parquet as pq

        for path in self.shard_paths():
            yield pq.read_table(path, schema=schema())

    def to_arrow(self) -> Any:
        """Every row as one pyarrow Table."""
        import pyarrow as pa

        return pa.concat_tables(list(self.iter_tables())) if self.manifest["shards"] else schema().empty_table()

    def to_pandas(self) -> Any:
        """Every row as a pandas DataFrame."""
        return self.to_arrow().to_pandas()

    def iter_explanations(self) -> Iterator[Explanation]:
        """The explanations, in example order, streamed shard by shard."""
        for table in self.iter_tables():
            yield from table_to_explanations(table, self.class_names)

    def to_explanations(self) -> ExplanationSet:
        """Every explanation as an :class:`ExplanationSet` (in memory: for slices, prefer iter_explanations)."""
        return ExplanationSet(list(self.iter_explanations()))

    def __len__(self) -> int:
        return sum(entry["rows"] for entry in self.manifest["shards"].values())

    def __repr__(self) -> str:
        m = self.manifest
        return (f"JobResult({str(self.out)!r}, rows={len(self)}, shards={len(m['shards'])}/{m['n_shards']}, "
                f"skipped={len(self.skipped)})")
