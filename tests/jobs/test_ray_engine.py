"""The Ray engine of dataset jobs on a local Ray (2 CPUs): the same shard files and rows as the local engine."""

from __future__ import annotations

import csv
import os

import pytest

import lumos
from lumos.jobs import explain_dataset

ray = pytest.importorskip("ray")

METHODS = ["occlusion", ("ig", {"n_steps": 4})]
CLOSED = "http://127.0.0.1:9"  # Ray's start-up probes (usage stats, cloud metadata) go nowhere


@pytest.fixture(scope="module")
def ray_session():
    """One small local Ray for the module (its start is slow), with its network probes sent to a closed port."""
    saved = {k: os.environ.get(k) for k in ("RAY_USAGE_STATS_ENABLED", "http_proxy", "https_proxy", "HTTP_PROXY",
                                            "HTTPS_PROXY")}
    os.environ.update(RAY_USAGE_STATS_ENABLED="0", http_proxy=CLOSED, https_proxy=CLOSED, HTTP_PROXY=CLOSED,
                      HTTPS_PROXY=CLOSED)
    from lumos.jobs.ray_engine import start_ray

    start_ray(None, num_cpus=2)
    yield
    ray.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    texts = sorted(lumos.zoo.dataset("airline-tweets").test.texts[:40], key=len)[10:16]
    path = tmp_path_factory.mktemp("data") / "tweets.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["text"], *[[t] for t in texts]])
    return path


def test_ray_and_local_engines_write_identical_results(ray_session, data, tmp_path):
    """Two Ray actors (half a CPU each) write the shard files the local engine writes, with identical rows."""
    kw = dict(methods=METHODS, shard_size=2, group_size=2, threads=1)
    local = explain_dataset(data, out=tmp_path / "local", **kw)
    remote = explain_dataset(data, out=tmp_path / "ray", engine="ray", num_workers=2, **kw)
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir())
    assert remote.complete and len(remote) == 12
    a, b = local.to_pandas().drop(columns="seconds"), remote.to_pandas().drop(columns="seconds")
    assert a.equals(b)
    assert {k: e["rows"] for k, e in remote.manifest["shards"].items()} == {"0": 4, "1": 4, "2": 4}


def test_ray_engine_names_a_bad_row_like_the_local_engine(ray_session, tmp_path):
    """A row an actor's method refuses stops the Ray job with the local engine's one-line error."""
    from lumos.errors import InvalidArgumentError

    data = tmp_path / "d.csv"
    data.write_text("text\nlate again\nthe flight was late again and again\n")
    with pytest.raises(InvalidArgumentError, match=r"d\.csv, row 2, column 'text': could not be explained: "
                                                   r"ExactShapley evaluates all 2\^n coalitions"):
        explain_dataset(data, methods=[("exact_shapley", {"max_features": 3})], out=tmp_path / "out",
                        engine="ray", group_size=2, shard_size=2)
