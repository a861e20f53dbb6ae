"""Figures README.md states without a benchmark of their own, measured by running what the README says.

The "Which explanation to trust" example (zoo model ``tweets-sentiment``, the two example tweets: every value
its comments print), the tabular rows of the diagnosis table (accuracy, ECE, errors and surrogate fidelity at
depths 2 / 3 / 4 on the zoo's test splits) and the zoo table's held-out accuracy and R² (the models' cards).
Each is printed beside the README's value, rounded as the README rounds it; ``--check`` exits with status 1 when
one differs.
Deterministic (seeded), so one run is enough.

Run: ``python bench/readme_numbers.py [--check]``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import lumos
from lumos.metrics import (ModelIndependent, faithfulness, faithfulness_correlation, max_sensitivity,
                           model_randomization, plausibility, rank_agreement, topk_overlap)

TEXTS = ["@united the flight was late again and nobody told us why", "great crew, thanks for the upgrade!"]

#: (what, README's value, digits it is rounded to)
CLAIMS = [
    ("deletion_auc", 0.764, 3), ("insertion_auc", 0.964, 3), ("gap", 0.201, 3),
    ("aopc_comprehensiveness", 0.124, 3), ("aopc_sufficiency", 0.052, 3),
    ("faithfulness_correlation[0]", 0.688, 3), ("faithfulness_correlation[1]", 0.412, 3),
    ("rank_agreement[0]", 0.418, 3), ("rank_agreement[1]", 0.6, 3),
    ("topk_overlap[0]", 0.667, 3), ("topk_overlap[1]", 0.333, 3),
    ("max_sensitivity[0]", 0.115, 3), ("max_sensitivity[1]", 0.703, 3),
    ("randomization final", 0.044, 3), ("randomization passed", True, None),
    ("word_length passed", False, None),
    ("plausibility auprc[0]", 1.0, 3), ("plausibility auprc[1]", 0.583, 3),
    ("credit-scoring accuracy", 0.787, 3), ("credit-scoring ECE", 0.043, 3),
    ("credit-scoring fidelity 2/3/4", (0.814, 0.836, 0.853), 3),
    ("breast-cancer-gbm accuracy", 0.947, 3), ("breast-cancer-gbm ECE", 0.050, 3),
    ("breast-cancer-gbm errors", 6, None), ("breast-cancer-gbm fidelity 2/3/4", (0.930, 0.939, 0.939), 3),
    ("breast-cancer-mlp accuracy", 0.974, 3), ("breast-cancer-mlp ECE", 0.025, 3),
    ("breast-cancer-mlp errors", 3, None), ("breast-cancer-mlp fidelity 2/3/4", (0.921, 0.930, 0.930), 3),
    ("tweets-sentiment test/validation accuracy", (0.817, 0.809), 3),
    ("breast-cancer-gbm test/validation accuracy", (0.947, 0.930), 3),
    ("breast-cancer-mlp test/validation accuracy", (0.974, 0.956), 3),
    ("credit-scoring test/validation accuracy", (0.787, 0.806), 3),
    ("digits-cnn test/validation accuracy", (0.963, 0.978), 3),
    ("diabetes-linear test R2", 0.493, 3), ("diabetes-linear validation R2", 0.511, 3),
    ("diabetes-mlp test R2", 0.521, 3), ("diabetes-mlp validation R2", 0.516, 3),
]


def measure() -> dict:
    model = lumos.zoo.load("tweets-sentiment")
    ig = lumos.IntegratedGradients(model, n_steps=32)
    e = ig.attribute(TEXTS)
    r = faithfulness(model, e)[0]
    corr = faithfulness_correlation(model, e)
    occ = lumos.Occlusion(model).attribute(TEXTS)
    agree, overlap = rank_agreement(e, occ), topk_overlap(e, occ, k=3)
    sens = max_sensitivity(ig, e, n_perturbations=3)
    s = model_randomization(lumos.GradientXInput(model), TEXTS)
    length = ModelIndependent(model, lambda words, x: [len(w) for w in words], name="word_length")
    auprc = plausibility(e, [["late", "nobody"], ["great", "thanks"]]).auprc
    tables = {}
    for name, data in (("credit-scoring", "credit"), ("breast-cancer-gbm", "breast-cancer"),
                       ("breast-cancer-mlp", "breast-cancer")):
        tables.update(_diagnosis(name, lumos.zoo.dataset(data)))
    for name in ("tweets-sentiment", "breast-cancer-gbm", "breast-cancer-mlp", "credit-scoring", "digits-cnn"):
        card = lumos.zoo.load(name).card  # the held-out accuracy measured when the model was built (the zoo table)
        tables[f"{name} test/validation accuracy"] = (card["test_accuracy"], card["validation_accuracy"])
    for name in ("diabetes-linear", "diabetes-mlp"):
        card = lumos.zoo.load(name, progress=False).card
        tables[f"{name} test R2"], tables[f"{name} validation R2"] = card["test_r2"], card["validation_r2"]
    return {
        **tables,
        "deletion_auc": r.deletion_auc, "insertion_auc": r.insertion_auc, "gap": r.gap,
        "aopc_comprehensiveness": r.aopc_comprehensiveness, "aopc_sufficiency": r.aopc_sufficiency,
        "faithfulness_correlation[0]": corr[0], "faithfulness_correlation[1]": corr[1],
        "rank_agreement[0]": agree[0], "rank_agreement[1]": agree[1],
        "topk_overlap[0]": overlap[0], "topk_overlap[1]": overlap[1],
        "max_sensitivity[0]": sens[0], "max_sensitivity[1]": sens[1],
        "randomization final": s.final, "randomization passed": s.passed,
        "word_length passed": model_randomization(length, TEXTS).passed,
        "plausibility auprc[0]": auprc[0], "plausibility auprc[1]": auprc[1],
    }


def _diagnosis(name: str, data) -> dict:
    from lumos.diagnosis import diagnose
    from lumos.global_ import SurrogateTree

    model = lumos.zoo.load(name)
    d = diagnose(model, data.test.frame, data.test.labels, n_errors=0, progress=False)
    fidelity = tuple(SurrogateTree(model, max_depth=k).fit(data.train.frame).fidelity(data.test.frame)
                     for k in (2, 3, 4))
    accuracy = float(d.performance.accuracy)
    return {f"{name} accuracy": accuracy, f"{name} ECE": d.calibration.ece,
            f"{name} errors": int(round((1 - accuracy) * len(data.test))), f"{name} fidelity 2/3/4": fidelity}


def _matches(value, claimed, digits) -> bool:
    if isinstance(claimed, tuple):
        return all(_matches(v, c, digits) for v, c in zip(value, claimed))
    return value == claimed if digits is None else round(float(value), digits) == claimed


def _show(value, digits) -> str:
    if isinstance(value, tuple):
        return "/".join(_show(v, digits) for v in value)
    return str(value) if digits is None else f"{float(value):.{digits + 2}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="Exit with status 1 when a figure differs.")
    args = parser.parse_args(argv)
    measured = measure()
    wrong = 0
    print(f"{'figure':<42} {'README':>17} {'measured':>26}  match")
    for key, claimed, digits in CLAIMS:
        value = measured[key]
        ok = _matches(value, claimed, digits)
        wrong += not ok
        print(f"{key:<42} {_show(claimed, None) if isinstance(claimed, tuple) else str(claimed):>17} "
              f"{_show(value, digits):>26}  {'yes' if ok else 'NO'}")
    print(f"{len(CLAIMS) - wrong} of {len(CLAIMS)} figures match")
    return 1 if args.check and wrong else 0


if __name__ == "__main__":
    sys.exit(main())
