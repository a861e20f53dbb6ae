"""What compression does to the zoo's tweets-sentiment model, measured in one run.

Models, all made from the same zoo model in this process: 50% global magnitude pruning (``prune:0.5``), 4 of 12
heads removed per layer by magnitude (``heads:4``) and by measured ablation effect on training tweets
(``heads:4 ablation``), half the feed-forward neurons removed (``neurons:0.5``), int8 dynamic quantization
(``int8``), and two 3-block students initialised from the teacher's blocks 1, 3, 5 and trained on the same
``--train`` training tweets with the same settings: one on the teacher's soft labels mixed with the labels
(``distill:3``, alpha 0.5, T 2), one on the labels alone (``student:3 no teacher``, alpha 0), the baseline a
distilled student must beat.

Each is compared with the original by :func:`lumos.compression.compare` on the first ``--n`` test tweets:
accuracy, agreement, parameters, bytes on disk (safetensors as lumos saves them: sparse tensors as values +
bitmap, int8 weights as int8), latency per tweet at batch size 1 (median of ``--repeats`` runs over
``--latency`` tweets), and for saliency, Integrated Gradients (32 steps) and occlusion on ``--explain`` tweets:
rank correlation and top-3 overlap with the original's explanations and the faithfulness gap of the model's own
explanations. Also: int8 against float32 throughput at batch size 64 (the ratio the issue asks for).

Run: ``python bench/compression.py [--n 500] [--explain 30] [--train 2000] [--epochs 3] [--out bench/out]``.
Peers: no explainability library measures explanation drift under compression; the float32 model is the
reference of every ratio.
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
from lumos import compression as C


def throughput(adapter, texts, repeats: int) -> float:
    """Tweets per second at batch size 64: median over repeats."""
    adapter.predict(texts[:64])
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        adapter.predict(texts, batch_size=64)
        runs.append(len(texts) / (time.perf_counter() - t0))
    return float(np.median(runs))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="test tweets compared")
    parser.add_argument("--explain", type=int, default=30, help="tweets explained per method and model")
    parser.add_argument("--train", type=int, default=2000, help="training tweets for the students")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--latency", type=int, default=30, help="tweets timed one per call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t_start = time.perf_counter()
    model = lumos.zoo.load("tweets-sentiment")
    data = lumos.zoo.dataset("airline-tweets")
    test_texts, test_labels = list(data.test.texts[:args.n]), np.asarray(data.test.labels[:args.n])
    train_texts, train_labels = list(data.train.texts[:args.train]), np.asarray(data.train.labels[:args.train])
    validation = (list(data.validation.texts[:500]), np.asarray(data.validation.labels[:500]))

    timings = {}
    models = {}

    def make(label, fn):
        t0 = time.perf_counter()
        models[label] = fn()
        timings[label] = round(time.perf_counter() - t0, 1)
        print(f"{label}: built in {timings[label]} s", flush=True)

    make("prune:0.5", lambda: C.prune_magnitude(model, 0.5))
    make("heads:4", lambda: C.prune_heads(model, 4))
    make("heads:4 ablation", lambda: C.prune_heads(model, 4, importance="ablation", texts=train_texts[:300]))
    make("neurons:0.5", lambda: C.prune_neurons(model, 0.5))
    make("int8", lambda: C.quantize_int8(model))
    student = dict(n_layers=3, epochs=args.epochs, batch_size=32, validation=validation, progress=True)
    # The students of the recorded run: soft labels only, no hidden-state term, no transfer set (distill has
    # since added the hidden-state term to its defaults; bench/distillation.py measures the students' settings).
    make("distill:3", lambda: C.distill(model, train_texts, train_labels, alpha=0.5, hidden_weight=0.0,
                                        log_dir=str(out / "tensorboard" / "distill3"), **student))
    make("student:3 no teacher", lambda: C.distill(model, train_texts, train_labels, alpha=0.0, hidden_weight=0.0,
                                                   log_dir=str(out / "tensorboard" / "student3"), **student))

    result = C.compare(model, models, test_texts, test_labels, n_explain=args.explain,
                       latency_examples=args.latency, latency_repeats=args.repeats, progress=True)
    fp32 = throughput(model, test_texts[:256], args.repeats)
    int8 = throughput(models["int8"], test_texts[:256], args.repeats)

    from rich.console import Console

    console = Console(width=160)
    for table in result.render():
        console.print(table)
    print(f"throughput at batch 64: float32 {fp32:.1f} tweets/s, int8 {int8:.1f} tweets/s, "
          f"int8/float32 time ratio {fp32 / int8:.2f}")
    for label in ("distill:3", "student:3 no teacher"):
        print(label, "history", models[label].compression[-1]["history"])
    payload = {
        "date": time.strftime("%Y-%m-%d"), "machine": platform.machine(), "cpus": torch.get_num_threads(),
        "torch": torch.__version__, "settings": vars(args), "build_seconds": timings,
        "throughput_batch64": {"float32": fp32, "int8": int8},
        "histories": {k: models[k].compression[-1]["history"] for k in ("distill:3", "student:3 no teacher")},
        "seconds": round(time.perf_counter() - t_start, 1), **result.to_dict(),
    }
    (out / "compression.json").write_text(json.dumps(payload, indent=2, default=float))
    print(f"wrote {out / 'compression.json'} ({payload['seconds']} s in all)")


if __name__ == "__main__":
    main()
