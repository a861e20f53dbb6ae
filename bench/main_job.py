"""The main job, timed end to end: `make demo`'s work cold and warm, and `lumos evaluate` of the full method set.

    python bench/main_job.py [--jobs cold,warm,evaluate] [--n-evaluate 100] [--profile] [--out bench/out/main_job]

Each job is the real CLI in a fresh subprocess (imports, model loading and all), so the times are what a user
waits for:

- ``cold``: ``lumos report --model tweets-sentiment`` with an empty lumos cache (a temporary
  ``LUMOS_CACHE_DIR``), so the zoo head is trained first, as on a fresh machine right after ``make install``;
- ``warm``: the same command again on that cache;
- ``evaluate``: ``lumos evaluate --n N`` (every method of the text preset, the random baseline, the sanity and
  sensitivity subsets) on the warm cache.

With ``--profile`` each job runs under cProfile and the functions with the most cumulative time are printed
(and the raw profiles kept under ``--out``). Peers: none (the goal is the issue's: demo <= 3 min cold and
<= 60 s warm, evaluate of 100 tweets <= 5 min, on 2 cores).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_job(name: str, args: list[str], env: dict[str, str], out: Path, profile: bool) -> float:
    prefix = [sys.executable]
    if profile:
        prefix += ["-m", "cProfile", "-o", str(out / f"{name}.prof")]
    cmd = prefix + ["-m", "lumos.cli"] + args
    print(f"[{name}] {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - t0
    (out / f"{name}.log").write_text(proc.stdout)
    if proc.returncode:
        print(proc.stdout[-3000:])
        raise SystemExit(f"[{name}] failed with exit status {proc.returncode}")
    print(f"[{name}] {seconds:.1f} s", flush=True)
    return seconds


def summary(path: Path, n: int = 25) -> str:
    """The ``n`` lumos / torch / transformers functions with the most cumulative time."""
    buf = io.StringIO()
    stats = pstats.Stats(str(path), stream=buf)
    stats.sort_stats("cumulative").print_stats(r"lumos/|torch/nn/modules/module.py|tokenization", n)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="cold,warm,evaluate")
    parser.add_argument("--n-evaluate", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--cache", default=None, help="Use this LUMOS_CACHE_DIR (default: a fresh temporary one).")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "main_job"))
    parser.add_argument("--label", default="", help="Name of this run in the output folder (e.g. before, after).")
    args = parser.parse_args()
    out = Path(args.out) / args.label if args.label else Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    with tempfile.TemporaryDirectory(prefix="lumos-bench-") as tmp:
        env = dict(os.environ, LUMOS_CACHE_DIR=args.cache or str(Path(tmp) / "cache"),
                   LUMOS_DATA_DIR=str(Path(tmp) / "data"))
        report_out = str(Path(tmp) / "report")
        times: dict[str, float] = {}
        for job in jobs:
            if job in ("cold", "warm"):
                cmd = ["report", "--model", "tweets-sentiment", "--out", report_out]
            elif job == "evaluate":
                cmd = ["evaluate", "--model", "tweets-sentiment", "--n", str(args.n_evaluate)]
            else:
                raise SystemExit(f"unknown job {job!r}; jobs: cold, warm, evaluate")
            name = job if job not in times else f"{job}-{sum(k.startswith(job) for k in times) + 1}"
            times[name] = run_job(name, cmd, env, out, args.profile)
            if args.profile:
                print(summary(out / f"{name}.prof"))
    result = {"seconds": times, "n_evaluate": args.n_evaluate, "cpus": os.cpu_count(),
              "load_average": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    (out / "times.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
