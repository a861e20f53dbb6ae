"""Dataset jobs at scale: occlusion and Integrated Gradients (16 steps) over a slice of the zoo's airline tweets.

Measures (one command; results in bench/RESULTS.md):
  - throughput of the local engine against Ray with 1 and 2 actors (goal: Ray with 1 actor within 1.15x of local);
  - peak memory (max RSS of a fresh process) of the local engine at two dataset sizes (goal: within 10%);
  - the cost of a resume after a SIGKILL at about 50% (goal: work redone <= one shard per worker);
  - the inputs of a scaling model for N nodes (per-actor throughput, Ray start, per-shard overhead).

    python bench/jobs_scale.py                       # 1,000 rows (the quick run)
    python bench/jobs_scale.py --rows 200 --memory-rows 100,400
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLOSED = "http://127.0.0.1:9"
METHODS = [("occlusion", {}), ("ig", {"n_steps": 16})]


def write_slice(path: Path, n: int) -> Path:
    import lumos

    d = lumos.zoo.dataset("airline-tweets")
    texts = [*d.train.texts, *d.validation.texts, *d.test.texts][:n]
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["text"], *[[t] for t in texts]])
    return path


def child_job(data: Path, out: Path, shard_size: int, methods=METHODS) -> list[str]:
    code = (f"from lumos.jobs import explain_dataset; explain_dataset({str(data)!r}, methods={methods!r}, "
            f"out={str(out)!r}, shard_size={shard_size})")
    return [sys.executable, "-c", code]


def peak_rss(data: Path, out: Path, shard_size: int, methods) -> tuple[float, float]:
    """Max RSS (MB) and seconds of a fresh process running the local job."""
    code = (f"import resource, time; t = time.perf_counter(); from lumos.jobs import explain_dataset; "
            f"explain_dataset({str(data)!r}, methods={methods!r}, out={str(out)!r}, shard_size={shard_size}); "
            f"print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.perf_counter() - t)")
    line = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.split()
    return float(line[-2]), float(line[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--shard-size", type=int, default=64)
    parser.add_argument("--memory-rows", default="1000,4000", help="two dataset sizes for the memory check")
    parser.add_argument("--memory-methods", default="occlusion",
                        help="methods of the memory check (comma list; streaming is the engine's, not the method's)")
    parser.add_argument("--skip", default="", help="comma list of parts to skip: local,ray1,ray2,resume,memory")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    os.environ.update(RAY_USAGE_STATS_ENABLED="0", http_proxy=CLOSED, https_proxy=CLOSED, HTTP_PROXY=CLOSED,
                      HTTPS_PROXY=CLOSED)
    import torch

    from lumos.jobs import JobResult, explain_dataset

    work = Path(tempfile.mkdtemp(prefix="lumos-jobs-bench-"))
    data = write_slice(work / "tweets.csv", args.rows)
    n, s = args.rows, args.shard_size
    results: dict[str, object] = {"rows": n, "shard_size": s, "threads": torch.get_num_threads(),
                                  "methods": "occlusion + IG(16)"}

    def timed(name: str, **kw) -> float:
        t0 = time.perf_counter()
        result = explain_dataset(data, methods=METHODS, out=work / name, shard_size=s, **kw)
        seconds = time.perf_counter() - t0
        compute = sum(e["seconds"] for e in result.manifest["shards"].values() if "seconds" in e)
        results[name] = {"seconds": round(seconds, 1), "examples_per_s": round(n / seconds, 3),
                         "rows": len(result)}
        if compute:
            results[name]["shard_seconds_sum"] = round(compute, 1)
        print(name, results[name], flush=True)
        return seconds

    if "local" not in skip:
        timed("local")
    if not {"ray1", "ray2"} <= skip:
        from lumos.jobs.ray_engine import start_ray

        t0 = time.perf_counter()
        import ray

        start_ray(None, num_cpus=os.cpu_count())
        results["ray_start_seconds"] = round(time.perf_counter() - t0, 1)
        if "ray1" not in skip:
            timed("ray1", engine="ray", num_workers=1, threads=torch.get_num_threads())
        if "ray2" not in skip:
            timed("ray2", engine="ray", num_workers=2, threads=1)
        ray.shutdown()
        if "local" in results and "ray1" in results:
            results["ray1_over_local"] = round(results["ray1"]["seconds"] / results["local"]["seconds"], 3)
        if "local" in results and "ray2" in results:
            results["ray2_over_local"] = round(results["ray2"]["seconds"] / results["local"]["seconds"], 3)
        local = work / "local"
        if "local" in results:
            for name in ("ray1", "ray2"):
                if name in results:
                    a = JobResult(local).to_pandas().drop(columns="seconds")
                    b = JobResult(work / name).to_pandas().drop(columns="seconds")
                    results[f"{name}_rows_equal_local"] = bool(a.equals(b))
    if "resume" not in skip:
        out = work / "resume"
        child = subprocess.Popen(child_job(data, out, s), cwd=ROOT, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        n_shards = -(-n // s)
        t0 = time.perf_counter()
        done = 0
        while child.poll() is None:
            manifest = out / "manifest.json"
            if manifest.exists():
                done = len(json.loads(manifest.read_text())["shards"])
                if done >= n_shards // 2:
                    break
            time.sleep(0.05)
        killed_after = time.perf_counter() - t0
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        t0 = time.perf_counter()
        resumed = explain_dataset(data, methods=METHODS, out=out, shard_size=s)
        again = time.perf_counter() - t0
        results["resume"] = {"killed_after_s": round(killed_after, 1), "shards_done_at_kill": done,
                             "n_shards": n_shards, "resume_seconds": round(again, 1),
                             "examples_run_on_resume": n - done * s, "complete": resumed.complete,
                             "rows_equal_local": bool("local" in results and resumed.to_pandas().drop(
                                 columns="seconds").equals(JobResult(work / "local").to_pandas().drop(
                                 columns="seconds")))}
        print("resume", results["resume"], flush=True)
    if "memory" not in skip:
        sizes = [int(x) for x in args.memory_rows.split(",")]
        memory = {}
        for size in sizes:
            d = write_slice(work / f"m{size}.csv", size)
            rss, seconds = peak_rss(d, work / f"m{size}", s, args.memory_methods.split(","))
            memory[size] = {"max_rss_mb": round(rss, 1), "seconds": round(seconds, 1)}
            print("memory", size, memory[size], flush=True)
        results["memory"] = memory
        a, b = (memory[x]["max_rss_mb"] for x in sizes)
        results["memory_ratio"] = round(b / a, 3)
    print(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
