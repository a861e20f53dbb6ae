"""Decoy digits: does feedback on a fraction of the training digits make the zoo's digits CNN right for the right
reasons?

The decoy-MNIST recipe of Ross et al. (2017) on scikit-learn's 8 x 8 digits (the zoo's ``digits`` splits): every
image gets a 3 x 3 swatch in a random corner whose grey level encodes the class in training (``1 - 0.1 * y``) and
is random at validation and test time (the level of a random class). Models, all the zoo's ``DigitsCNN`` trained
from the same seed with the same settings:

- ``confounded``: trained on the decoy training images;
- ``clean`` (the ceiling): trained on training images whose swatch is random, as at test time (the same images
  without the decoy's information);
- ``rrr``, ``counterexamples``, ``both``: the confounded model retrained with :func:`lumos.feedback.retrain` on the
  decoy training images, a simulated annotator (:func:`lumos.feedback.simulate_annotator`) having marked the
  swatch irrelevant on 1%, 10% or 100% of them.

Measured on the unconfounded test split (random swatches): accuracy, and the share of saliency on the swatch
(``lumos.feedback.measure``), mean and spread over seeds (the seed draws the corners, the initial weights, the
shuffling and the annotated examples). Recovered gap: (method - confounded) / (clean - confounded).

Run: ``python bench/feedback_decoy.py [--seeds 3] [--fractions 0.01,0.1,1] [--epochs 30] [--retrain-epochs 20]
[--json out.json]``. Reference: Ross et al. report 0.516 (confounded), 0.961 (RRR, every example annotated,
penalty 1000) and 0.961 (clean) on decoy MNIST with an MLP.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch
from torch import nn

import lumos
from lumos.feedback import Annotated, measure, retrain, simulate_annotator
from lumos.training import fit
from lumos.zoo.vision import DigitsCNN

SIDE, SWATCH = 8, 3


def decoy(images: np.ndarray, labels: np.ndarray, *, confounded: bool, rng: np.random.Generator):
    """Images (n, 8, 8) with a swatch in a random corner: level ``1 - 0.1 * label`` when confounded, the level of a
    random class otherwise; and per image the swatch's pixel indices (row * 8 + column)."""
    out = np.array(images, dtype=np.float32, copy=True)
    regions = []
    for k in range(len(out)):
        top = int(rng.integers(2)) * (SIDE - SWATCH)
        left = int(rng.integers(2)) * (SIDE - SWATCH)
        level = 1.0 - 0.1 * (labels[k] if confounded else int(rng.integers(10)))
        out[k, top:top + SWATCH, left:left + SWATCH] = level
        regions.append([r * SIDE + c for r in range(top, top + SWATCH) for c in range(left, left + SWATCH)])
    return out, regions


def train_cnn(images: np.ndarray, labels: np.ndarray, *, seed: int, epochs: int):
    """The zoo's DigitsCNN trained as the zoo trains it (Adam 3e-3, batches of 64), from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitsCNN()
    x = torch.as_tensor(images)[:, None]
    y = torch.as_tensor(np.array(labels))
    gen = torch.Generator().manual_seed(seed)
    fit(model, lambda idx: nn.functional.cross_entropy(model(x[idx]), y[idx]),
        lambda _epoch: torch.randperm(len(y), generator=gen).split(64),
        optimizer=torch.optim.Adam(model.parameters(), lr=3e-3), epochs=epochs, seed=seed, progress=False)
    return lumos.ImageAdapter(model.eval(), image_size=(SIDE, SIDE), channels=1,
                              class_names=[str(i) for i in range(10)], cam_layer="features.6", name="decoy-digits-cnn")


def prepared(images: np.ndarray) -> list[np.ndarray]:
    return [img[..., None].astype(np.float32) for img in images]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fractions", default="0.01,0.1,1")
    parser.add_argument("--methods", default="rrr,counterexamples,both")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of the confounded and clean models")
    parser.add_argument("--retrain-epochs", type=int, default=20)
    parser.add_argument("--lam", default="auto")
    parser.add_argument("--train", default="all")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    fractions = [float(f) for f in args.fractions.split(",")]
    methods = args.methods.split(",")
    lam = args.lam if args.lam == "auto" else float(args.lam)
    train = args.train if args.train in ("all", "head") else int(args.train)
    torch.set_num_threads(1)
    data = lumos.zoo.dataset("digits")
    rows: list[dict] = []
    t_start = time.perf_counter()
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        train_x, train_regions = decoy(data.train.images, data.train.labels, confounded=True, rng=rng)
        test_x, test_regions = decoy(data.test.images, data.test.labels, confounded=False, rng=rng)
        val_x, _ = decoy(data.validation.images, data.validation.labels, confounded=False, rng=rng)
        test = Annotated(prepared(test_x), data.test.labels, tuple(tuple(r) for r in test_regions))
        validation = Annotated.unannotated(prepared(val_x), data.validation.labels)

        def record(name: str, adapter, fraction: float | None, seconds: float, extra: dict | None = None) -> None:
            m = measure(adapter, test)
            rows.append({"seed": seed, "model": name, "fraction": fraction, "accuracy": m["accuracy"],
                         "decoy_share": m["marked_share"], "seconds": round(seconds, 1), **(extra or {})})
            print(f"seed {seed} {name:<16} {'' if fraction is None else f'{fraction:>5.0%}'} accuracy "
                  f"{m['accuracy']:.3f} decoy share {m['marked_share']:.3f} ({seconds:.1f} s)", flush=True)

        t0 = time.perf_counter()
        confounded = train_cnn(train_x, data.train.labels, seed=seed, epochs=args.epochs)
        record("confounded", confounded, None, time.perf_counter() - t0)
        t0 = time.perf_counter()
        clean_x, _ = decoy(data.train.images, data.train.labels, confounded=False, rng=rng)
        clean = train_cnn(clean_x, data.train.labels, seed=seed, epochs=args.epochs)
        record("clean", clean, None, time.perf_counter() - t0)
        for fraction in fractions:
            annotated = simulate_annotator(prepared(train_x), data.train.labels, train_regions, fraction=fraction,
                                           seed=seed)
            for method in methods:
                t0 = time.perf_counter()
                result = retrain(confounded, annotated, validation=validation, method=method, lam=lam, train=train,
                                 epochs=args.retrain_epochs, lr=1e-3, seed=seed, progress=False)
                record(method, result.adapter, fraction, time.perf_counter() - t0, {"lambda": result.lam})
    summary = summarise(rows)
    out = {"rows": rows, "summary": summary, "settings": vars(args), "seconds": round(time.perf_counter() - t_start),
           "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}"}
    print(json.dumps(summary, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return out


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and standard deviation over seeds per (model, fraction), and the share of the confounded-to-clean gap
    recovered (from the per-seed gaps)."""
    by_seed = {(r["seed"], r["model"], r["fraction"]): r for r in rows}
    out = []
    for key in dict.fromkeys((r["model"], r["fraction"]) for r in rows):
        group = [r for r in rows if (r["model"], r["fraction"]) == key]
        acc = np.array([r["accuracy"] for r in group])
        share = np.array([r["decoy_share"] for r in group])
        recovered = [(r["accuracy"] - by_seed[(r["seed"], "confounded", None)]["accuracy"])
                     / (by_seed[(r["seed"], "clean", None)]["accuracy"]
                        - by_seed[(r["seed"], "confounded", None)]["accuracy"]) for r in group]
        out.append({"model": key[0], "fraction": key[1], "accuracy": float(acc.mean()), "accuracy_sd": float(acc.std()),
                    "decoy_share": float(share.mean()), "decoy_share_sd": float(share.std()),
                    "recovered": float(np.mean(recovered)), "n_seeds": len(group)})
    return out


if __name__ == "__main__":
    main()
