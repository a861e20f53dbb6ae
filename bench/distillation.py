"""Does a distilled student beat the same student trained without the teacher? Settings x seeds, in one run.

Every student keeps blocks 1, 3, 5 of the zoo's 6-block ``tweets-sentiment`` model and trains with the same
settings (3 epochs, batch 32, AdamW at 1e-4, warm-up and decay); only the signal differs:

- ``labels only``: the first ``--labels`` training tweets and their labels (alpha 0, no hidden-state term): the
  baseline, the same architecture trained without the teacher;
- ``teacher, same tweets``: the same labelled tweets, plus the teacher's soft labels (alpha 0.5, T 2) and
  hidden states (``--hidden-weight``);
- ``teacher + transfer set``: as above, plus the next ``--unlabeled`` training tweets whose labels are never
  read: the teacher's outputs are the only signal on them (what a teacher offers that labels cannot).

Accuracy on all test and all validation tweets, per seed; the difference to ``labels only`` comes with a paired
bootstrap 95% interval over tweets (each tweet's correctness averaged over seeds, the same resampled tweets for
both students), and with the count of tweets only one of the two gets right (seed 0).

Run: ``python bench/distillation.py [--labels 2000] [--unlabeled 8000] [--seeds 3] [--hidden-weight 1]
[--out bench/out]``. Peers: none (no explainability library distils); the labels-only student is the reference.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import lumos
from lumos.compression import distill


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=2000, help="labelled training tweets")
    parser.add_argument("--unlabeled", type=int, default=8000, help="further training tweets, labels unused")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--hidden-weight", type=float, default=1.0, help="hidden-state term of the distilled students")
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    args = parser.parse_args(argv)
    t_start = time.perf_counter()
    teacher = lumos.zoo.load("tweets-sentiment")
    data = lumos.zoo.dataset("airline-tweets")
    train = data.train
    texts, labels = list(train.texts[:args.labels]), np.asarray(train.labels[:args.labels])
    unlabeled = list(train.texts[args.labels:args.labels + args.unlabeled])
    held_texts = list(data.test.texts) + list(data.validation.texts)
    truth = np.concatenate([np.asarray(data.test.labels), np.asarray(data.validation.labels)])
    n_test = len(data.test.texts)
    teacher_pred = teacher.predict(held_texts).argmax(1)
    common = dict(n_layers=3, epochs=args.epochs, batch_size=32, progress=True)
    settings = {
        "labels only": dict(alpha=0.0, hidden_weight=0.0),
        "teacher, same tweets": dict(alpha=0.5, hidden_weight=args.hidden_weight),
        "teacher + transfer set": dict(alpha=0.5, hidden_weight=args.hidden_weight, unlabeled=unlabeled),
    }
    correct = {name: [] for name in settings}  # per seed: (n_held,) bool
    runs = []
    for seed in range(args.seeds):
        for name, kw in settings.items():
            t0 = time.perf_counter()
            student = distill(teacher, texts, labels, seed=seed, **common, **kw)
            seconds = time.perf_counter() - t0
            predicted = student.predict(held_texts).argmax(1)
            ok = predicted == truth
            correct[name].append(ok)
            runs.append({"setting": name, "seed": seed, "train_seconds": round(seconds, 1),
                         "test_accuracy": float(ok[:n_test].mean()), "validation_accuracy": float(ok[n_test:].mean()),
                         "agreement_with_teacher": float((predicted == teacher_pred).mean())})
            print(json.dumps(runs[-1]), flush=True)

    rng = np.random.default_rng(0)
    resample = rng.integers(0, len(truth), size=(2000, len(truth)))
    base = np.mean(correct["labels only"], axis=0)
    summary = {}
    for name in settings:
        mine = np.mean(correct[name], axis=0)
        rows = [r for r in runs if r["setting"] == name]
        diff = mine - base
        boot = diff[resample].mean(axis=1)
        summary[name] = {
            "test_accuracy": [r["test_accuracy"] for r in rows],
            "validation_accuracy": [r["validation_accuracy"] for r in rows],
            "held_out_accuracy_mean": float(mine.mean()),
            "difference_to_labels_only": float(diff.mean()),
            "difference_ci95": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            "only_this_right_seed0": int((correct[name][0] & ~correct["labels only"][0]).sum()),
            "only_labels_only_right_seed0": int((~correct[name][0] & correct["labels only"][0]).sum()),
            "agreement_with_teacher_mean": float(np.mean([r["agreement_with_teacher"] for r in rows])),
            "train_seconds_mean": float(np.mean([r["train_seconds"] for r in rows])),
        }
    teacher_ok = teacher_pred == truth
    payload = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.machine(), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "settings": {k: str(v) for k, v in vars(args).items()},
        "teacher": {"test_accuracy": float(teacher_ok[:n_test].mean()),
                    "validation_accuracy": float(teacher_ok[n_test:].mean())},
        "n_test": n_test, "n_validation": len(truth) - n_test, "runs": runs, "summary": summary,
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    print(f"teacher: test {payload['teacher']['test_accuracy']:.4f}, validation "
          f"{payload['teacher']['validation_accuracy']:.4f}")
    print(f"{'student':<24} {'test (per seed)':<28} {'validation (per seed)':<28} {'Δ held-out vs labels only':>26}")
    for name, s in summary.items():
        lo, hi = s["difference_ci95"]
        print(f"{name:<24} {' '.join(f'{a:.4f}' for a in s['test_accuracy']):<28} "
              f"{' '.join(f'{a:.4f}' for a in s['validation_accuracy']):<28} "
              f"{s['difference_to_labels_only']:+.4f} [{lo:+.4f}, {hi:+.4f}]")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "distillation.json").write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out / 'distillation.json'} ({payload['seconds']} s in all)")
    return payload


if __name__ == "__main__":
    main()
