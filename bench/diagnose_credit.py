"""`lumos diagnose` on 5,000 rows of credit data: end-to-end wall time of the command on this machine.

The rows: the held-out (validation + test) rows of the zoo's `credit` dataset (1,782 applicants), resampled
with replacement to ``--rows`` (default 5,000) from a fixed seed and written as a CSV of the model's feature
columns plus ``label``. The command timed is

    lumos diagnose --model credit-scoring --data rows.csv --errors 3

run as a fresh process ``--repeats`` times (median reported): interpreter start, ``import lumos``, the model's
deterministic retraining, reading the CSV, prediction, calibration, slice search and three explained errors
(occlusion). The goal is under 60 s. Peers: none offer this command; sklearn's own timing of the same model's
predict_proba on the rows is printed as the floor.

Run: ``python bench/diagnose_credit.py [--rows 5000] [--repeats 3] [--out bench/out]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import lumos


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="bench/out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    data = lumos.zoo.dataset("credit")
    held_out = pd.concat([data.validation.frame, data.test.frame], ignore_index=True)
    labels = np.concatenate([data.validation.labels, data.test.labels])
    pick = np.random.default_rng(0).choice(len(held_out), size=args.rows, replace=True)
    table = held_out.iloc[pick].reset_index(drop=True)
    table["label"] = np.array(data.class_names)[labels[pick]]
    csv = out / "credit_rows.csv"
    table.to_csv(csv, index=False)

    lumos_cli = Path(sys.executable).with_name("lumos")
    command = [str(lumos_cli), "diagnose", "--model", "credit-scoring", "--data", str(csv), "--errors", "3", "--json"]
    walls, payload = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - t0)
        payload = json.loads(done.stdout)

    adapter = lumos.zoo.load("credit-scoring")
    t0 = time.perf_counter()
    adapter.estimator.predict_proba(table.drop(columns=["label"]))
    floor = time.perf_counter() - t0

    result = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}",
        "rows": args.rows, "repeats": args.repeats, "wall_seconds": walls, "median_wall_seconds": statistics.median(walls),
        "diagnose_seconds_in_process": payload["seconds"], "sklearn_predict_proba_seconds": floor,
        "accuracy": payload["accuracy"], "ece": payload["ece"], "slices": payload["slices"],
    }
    (out / "diagnose_credit.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "slices"}, indent=2))
    for s in payload["slices"]:
        print(f"  {s['slice']}: size {s['size']}, error rate {s['error_rate']:.3f}, lift {s['lift']:.2f}, "
              f"p {s['p_value']:.2g}")
    print("goal < 60 s:", "met" if statistics.median(walls) < 60 else "NOT met")


if __name__ == "__main__":
    main()
