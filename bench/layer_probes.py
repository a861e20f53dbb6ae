"""Layer-wise linear probes for sentiment on the zoo model, on the held-out validation split.

Run: .venv/bin/python bench/layer_probes.py [--n 2160]   (prints a Markdown table for RESULTS.md)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import lumos
from lumos.representation import collect, probe, project


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2160)
    args = parser.parse_args()
    adapter = lumos.zoo.load("tweets-sentiment", progress=False)
    val = lumos.zoo.dataset("airline-tweets").validation
    texts, labels = list(val.texts[:args.n]), np.asarray(val.labels[:args.n])
    t0 = time.perf_counter()
    acts = collect(adapter, texts, progress=False)
    result = probe(acts, labels, cv=5)
    pca = project(acts, labels, method="pca")
    seconds = time.perf_counter() - t0
    print(f"## Layer-wise sentiment probes (tweets-sentiment, {len(texts)} validation tweets)\n")
    print(f"Logistic regression (C=0.1, standardized) on mean-pooled states, 5-fold stratified CV; majority "
          f"class {result.chance:.3f}; {seconds:.0f} s in all.\n")
    print("| site | accuracy | std over folds | PCA-2 explained variance |")
    print("| --- | --- | --- | --- |")
    for site, acc, std in zip(result.sites, result.accuracy, result.std):
        print(f"| {site} | {acc:.3f} | {std:.3f} | {pca[site].quality['explained_variance']:.3f} |")


if __name__ == "__main__":
    main()
