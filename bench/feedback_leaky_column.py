"""Leaky column: does feedback on a fraction of the training rows stop the zoo's tabular MLP from using a column that
predicts the label in training only?

Breast cancer (the zoo's splits) with one extra column ``leak``: ``+1`` for benign and ``-1`` for malignant plus
Gaussian noise (sd 0.1) in training, ``+-1`` at random at validation and test time. Models, all the zoo's
``TableMLP`` (30 + 1 inputs, standardised with the training mean and sd, two hidden ReLU layers of 32) trained
from the same seed with the same settings (Adam 3e-3, batches of 64, ``--epochs``):

- ``confounded``: trained with the leaky column;
- ``clean`` (the ceiling): trained with the column random, as at test time;
- ``rrr``, ``counterexamples``, ``both``: the confounded model retrained with :func:`lumos.feedback.retrain`, a
  simulated annotator having marked ``leak`` irrelevant on 1%, 10% or 100% of the training rows.

Measured on the test split: accuracy and the share of saliency on ``leak``; mean and spread over seeds.

Run: ``python bench/feedback_leaky_column.py [--seeds 3] [--fractions 0.01,0.1,1] [--epochs 60]
[--retrain-epochs 30] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

import lumos
from lumos.feedback import Annotated, measure, retrain, simulate_annotator
from lumos.training import fit
from lumos.zoo.tabular import TableMLP

def with_leak(frame, labels: np.ndarray, *, confounded: bool, rng: np.random.Generator) -> np.ndarray:
    x = frame.to_numpy(dtype=np.float32)
    if confounded:
        leak = (2.0 * labels - 1.0) + 0.1 * rng.normal(size=len(labels))
    else:
        leak = rng.choice([-1.0, 1.0], size=len(labels))
    return np.column_stack([x, leak]).astype(np.float32)

def train_mlp(x: np.ndarray, labels: np.ndarray, names: list[str], *, seed: int, epochs: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TableMLP(x.shape[1], 2)
    xt, yt = torch.as_tensor(x), torch.as_tensor(np.array(labels))
    with torch.no_grad():
        model.mean.copy_(xt.mean(0))
        model.std.copy_(xt.std(0).clamp_min(1e-6))
    gen = torch.Generator().manual_seed(seed)
    fit(model, lambda idx: nn.functional.cross_entropy(model(xt[idx]), yt[idx]),
        lambda _epoch: torch.randperm(len(yt), generator=gen).split(64),
        optimizer=torch.optim.Adam(model.parameters(), lr=3e-3), epochs=epochs, seed=seed, progress=False)
    return lumos.TabularTorchAdapter(model.eval(), class_names=["malignant", "benign"], feature_names=names,
                                     name="leaky-mlp")

def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fractions", default="0.01,0.1,1")
    parser.add_argument("--methods", default="rrr,counterexamples,both")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--retrain-epochs", type=int, default=30)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = lumos.zoo.dataset("breast-cancer")
    names = [*data.feature_names, "leak"]
    leak = [len(names) - 1]
    rows: list[dict] = []
    t_start = time.perf_counter()
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        train_x = with_leak(data.train.frame, data.train.labels, confounded=True, rng=rng)
        clean_x = with_leak(data.train.frame, data.train.labels, confounded=False, rng=rng)
        val_x = with_leak(data.validation.frame, data.validation.labels, confounded=False, rng=rng)
        test_x = with_leak(data.test.frame, data.test.labels, confounded=False, rng=rng)
        test = Annotated(list(test_x), data.test.labels, tuple((tuple(leak),) * len(test_x)))
        validation = Annotated.unannotated(list(val_x), data.validation.labels)

        def record(name, adapter, fraction, seconds, extra=None):
            m = measure(adapter, test)
            rows.append({"seed": seed, "model": name, "fraction": fraction, "accuracy": m["accuracy"],
                         "decoy_share": m["marked_share"], "seconds": round(seconds, 1), **(extra or {})})
            print(f"seed {seed} {name:<16} {'' if fraction is None else f'{fraction:>5.0%}'} accuracy "
                  f"{m['accuracy']:.3f} leak share {m['marked_share']:.3f} ({seconds:.1f} s)", flush=True)

        t0 = time.perf_counter()
        confounded = train_mlp(train_x, data.train.labels, names, seed=seed, epochs=args.epochs)
        record("confounded", confounded, None, time.perf_counter() - t0)
        t0 = time.perf_counter()
        clean = train_mlp(clean_x, data.train.labels, names, seed=seed, epochs=args.epochs)
        record("clean", clean, None, time.perf_counter() - t0)
        for fraction in [float(f) for f in args.fractions.split(",")]:
            annotated = simulate_annotator(list(train_x), data.train.labels, [leak] * len(train_x), fraction=fraction,
                                           seed=seed)
            for method in args.methods.split(","):
                t0 = time.perf_counter()
                result = retrain(confounded, annotated, validation=validation, method=method,
                                 epochs=args.retrain_epochs, lr=3e-3, seed=seed, progress=False)
                record(method, result.adapter, fraction, time.perf_counter() - t0, {"lambda": result.lam})
    from feedback_decoy import summarise

    summary = summarise(rows)
    out = {"rows": rows, "summary": summary, "settings": vars(args), "seconds": round(time.perf_counter() - t_start)}
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return out

if __name__ == "__main__":
    main()
