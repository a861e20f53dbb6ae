"""Peak memory of activation capture: every hidden-state site of every layer of the zoo model, for 1,000
test tweets, reduced on the fly (mean over tokens) and streamed token by token to disk.

Run: .venv/bin/python bench/capture_memory.py [--n 1000]   (prints a Markdown section for RESULTS.md)

Each mode runs in a fresh process, so its peak RSS (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def run_one(mode: str, n: int) -> dict:
    import numpy as np

    import lumos
    from lumos.representation import collect, sites

    adapter = lumos.zoo.load("tweets-sentiment", progress=False)
    texts = list(lumos.zoo.dataset("airline-tweets").test.texts[:n])
    names = [s for s, site in sites(adapter).items() if site.index in (None, 0)]  # every (B, T, D) site
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        if mode == "tokens":
            acts = collect(adapter, texts, names, reduce="tokens", directory=tmp, progress=False)
            stored = sum(acts[s].nbytes for s in acts.sites)
        else:
            acts = collect(adapter, texts, names, reduce="mean", progress=False)
            stored = sum(acts[s].nbytes for s in acts.sites)
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "n": n, "sites": len(names), "seconds": seconds, "rss_after_load_mb": loaded,
            "peak_rss_mb": peak, "stored_mb": stored / 2**20, "numpy": np.__version__}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--one", choices=["mean", "tokens"])
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.n)))
        return
    rows = []
    for mode in ("mean", "tokens"):
        out = subprocess.run([sys.executable, __file__, "--one", mode, "--n", str(args.n)], capture_output=True,
                             text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"## Activation capture memory ({args.n} test tweets, every hidden-state site)\n")
    print("| reduce | sites | seconds | RSS after model load (MB) | peak RSS (MB) | activations kept (MB) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        where = "on disk" if r["mode"] == "tokens" else "in memory"
        print(f"| {r['mode']} | {r['sites']} | {r['seconds']:.1f} | {r['rss_after_load_mb']:.0f} | "
              f"{r['peak_rss_mb']:.0f} | {r['stored_mb']:.1f} {where} |")


if __name__ == "__main__":
    main()
