"""The dataset-job options of the commands that run over a whole dataset file (``--data FILE --out DIR``): one
decorator that adds them and gathers them into one ``job`` argument, and the run of an explain job."""

from __future__ import annotations

import functools
from typing import Any, Callable

import click

from ..errors import InvalidArgumentError
from ._common import SEED, count, number

#: Options of a dataset job, gathered into the command's ``job`` argument (None when --data is not given).
_JOB_OPTIONS = ("data", "column", "methods", "engine", "address", "num_workers", "num_gpus", "shard_size",
                "on_error", "seed")


def job_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--data``, ``--column``, ``--methods``, ``--engine``, ``--address``, ``--num-workers``, ``--num-gpus``,
    ``--shard-size``, ``--on-error`` and ``--seed``; the command receives them as one dict ``job`` (None without
    ``--data``). Place it below the command's own options."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        job = {name: kwargs.pop(name) for name in _JOB_OPTIONS}
        if job["data"] is None:
            given = [name for name in _JOB_OPTIONS[1:] if job[name] not in (None, "text", "local", "raise", 1, 0.0)]
            if given:
                raise click.UsageError(f"The option '--{given[0].replace('_', '-')}' belongs to a dataset job: "
                                       "give '--data FILE' and '--out DIR' with it.")
            job = None
        return fn(*args, job=job, **kwargs)

    options = [
        click.option("--data", "data", default=None, metavar="FILE",
                     help="Run over a whole dataset: a .csv, .parquet or .jsonl file, or a folder of images; results "
                          "go to Parquet shards in --out DIR (resumable)."),
        click.option("--column", default="text", show_default=True, help="With --data: the column of the inputs."),
        click.option("--methods", default=None, metavar="A,B",
                     help="With --data: methods to run, comma-separated (default: --method, or ig)."),
        click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="With --data: in this process, or on Ray (pip install lumos[ray])."),
        click.option("--address", default=None, help="With --engine ray: the Ray cluster (default: a local Ray)."),
        click.option("--num-workers", default=1, type=count(1), show_default=True,
                     help="With --engine ray: actors, one model replica each."),
        click.option("--num-gpus", default=0.0, type=number(0), show_default=True,
                     help="With --engine ray: GPUs per actor."),
        click.option("--shard-size", default=None, type=count(1), help="With --data: examples per shard [default: 256]."),
        click.option("--on-error", type=click.Choice(["raise", "skip"]), default="raise", show_default=True,
                     help="With --data: stop at a bad row, or skip it and record it in the manifest."),
        click.option("--seed", default=None, type=SEED, help="With --data: seed of sampling methods [default: 0]."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def run_explain_job(job: dict[str, Any], *, model: str, methods: list[str], settings: dict[str, dict[str, int]],
                    out: str | None) -> None:
    """``lumos explain --data``: explain every row, print where the shards went and what was skipped."""
    from ..jobs import explain_dataset

    if out is None:
        raise InvalidArgumentError("The '--data' option needs '--out DIR', the directory of the Parquet shards.")
    pairs = [(name, settings[name]) for name in methods]
    result = explain_dataset(job["data"], methods=pairs, out=out, model=model, column=job["column"],
                             engine=job["engine"], shard_size=job["shard_size"] or 256, seed=job["seed"] or 0,
                             on_error=job["on_error"], address=job["address"], num_workers=job["num_workers"],
                             num_gpus=job["num_gpus"])
    m = result.manifest
    click.echo(f"{len(result)} explanations of {m['n_examples']} examples ({', '.join(methods)}) in "
               f"{len(m['shards'])} shards under {out}; {len(result.skipped)} rows skipped.")
    for row in result.skipped[:5]:
        click.echo(f"  skipped row {row['row']}: {row['reason']}")
