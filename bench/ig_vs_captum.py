"""lumos Integrated Gradients against Captum's LayerIntegratedGradients on the zoo's tweet classifier.

Both sides explain the same held-out tweets (the first ``--n`` of the airline-tweets test split) for the same
target (lumos's predicted class), from the same reference (the [PAD] embedding at every non-special token,
[CLS]/[SEP] kept), with the same quadrature (Gauss-Legendre, ``--steps`` points), at the same site (the
word-embedding output, summed over the embedding dimension). Captum reaches that site with
``LayerIntegratedGradients`` on the word-embedding module and ``baselines`` = the input ids with every
non-special token replaced by the pad id, which gives exactly lumos's baseline embeddings.

Timing is end to end, text in and per-token attributions out (tokenisation included on both sides), in one
process with the same thread count. Every configuration gets one untimed warm-up call; then the
configurations are timed in turn over the same tweets, ``--repeats`` rounds whose order rotates, and the
median round is reported.

Run: ``python bench/ig_vs_captum.py [--n 20] [--steps 64] [--repeats 5] [--out bench/out]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

import lumos

TITLE = "Integrated Gradients vs Captum LayerIntegratedGradients"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="held-out tweets explained (the first n of the test split)")
    parser.add_argument("--steps", type=int, default=64, help="Gauss-Legendre quadrature points on both sides")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per configuration (median reported)")
    parser.add_argument("--out", type=Path, default=Path("bench/out"), help="directory for ig_vs_captum.json")
    return parser.parse_args(argv)


def machine_facts() -> dict:
    import captum
    import transformers

    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "captum": captum.__version__,
        "transformers": transformers.__version__,
        "lumos": getattr(lumos, "__version__", "unknown"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


class CaptumSide:
    """Captum's LayerIntegratedGradients at the word-embedding module, one tweet per call."""

    def __init__(self, adapter, n_steps: int) -> None:
        from captum.attr import LayerIntegratedGradients

        self.adapter, self.n_steps = adapter, n_steps
        model = adapter.model

        def forward(input_ids, attention_mask):
            return model(input_ids=input_ids, attention_mask=attention_mask)

        self.lig = LayerIntegratedGradients(forward, adapter.embeddings)

    def encode(self, text: str):
        """Input ids (1, T), attention mask (1, T), pad baseline ids (1, T), feature positions (non-special)."""
        tok = self.adapter.tokenizer
        enc = tok([text], truncation=True, max_length=self.adapter.max_length, return_tensors="pt",
                  return_special_tokens_mask=True)
        ids, mask = enc["input_ids"], enc["attention_mask"]
        special = enc["special_tokens_mask"].bool()
        base = torch.where(special, ids, torch.full_like(ids, tok.pad_token_id))
        positions = torch.nonzero(~special[0]).squeeze(1)
        return ids, mask, base, positions

    def explain(self, text: str, target: int, internal_batch_size: int | None) -> tuple[np.ndarray, float]:
        """Per-token attributions at the non-special positions, and Captum's convergence delta."""
        ids, mask, base, positions = self.encode(text)
        attr, delta = self.lig.attribute(ids, baselines=base, target=target, additional_forward_args=(mask,),
                                         n_steps=self.n_steps, method="gausslegendre",
                                         internal_batch_size=internal_batch_size,
                                         return_convergence_delta=True)
        per_token = attr.sum(-1)[0, positions]  # (T,) -> the non-special tokens
        return per_token.detach().double().numpy(), float(delta[0])

    def end_points(self, text: str, target: int) -> tuple[float, float]:
        """f(x) and f(baseline) for the target logit (untimed; for the completeness ratio)."""
        ids, mask, base, _ = self.encode(text)
        with torch.no_grad():
            logits = self.adapter.model(input_ids=torch.cat([ids, base]), attention_mask=torch.cat([mask, mask]))
        return float(logits[0, target]), float(logits[1, target])


def surviving_hooks(module: torch.nn.Module) -> int:
    """Hooks of any kind left on ``module`` or its children."""
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
             "_state_dict_hooks", "_load_state_dict_pre_hooks")
    return sum(len(getattr(m, k, {}) or {}) for m in module.modules() for k in kinds)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def time_rounds(configs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each configuration's call, ``repeats`` rounds, the order rotated every round."""
    names = list(configs)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            configs[name]()
            seconds[name].append(time.perf_counter() - t0)
            print(f"  round {r + 1}/{repeats}  {name:<40s} {seconds[name][-1]:7.2f} s", file=sys.stderr)
    return seconds


def print_table(rows: list[tuple[str, str]], title: str) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(f"\n{title}")
        for k, v in rows:
            print(f"  {k:<58s} {v}")
        return
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    facts = machine_facts()
    print(f"cpu_count={facts['cpu_count']} torch.get_num_threads()={facts['torch_threads']} "
          f"torch={facts['torch']} captum={facts['captum']} transformers={facts['transformers']}")

    adapter = lumos.zoo.load("tweets-sentiment", progress=False)
    adapter.model.eval()
    texts = list(lumos.zoo.dataset("airline-tweets").test.texts[: args.n])
    n, steps = len(texts), args.steps

    def lumos_ig(batch_size: int):
        return lumos.IntegratedGradients(adapter, n_steps=steps, method="gausslegendre", internal_batch_size=64,
                                         baseline="pad", batch_size=batch_size, progress=False)

    ig_one, ig_batched = lumos_ig(1), lumos_ig(16)
    captum = CaptumSide(adapter, steps)

    # The reference run fixes the targets (lumos's predicted class) that every configuration explains.
    reference = ig_batched.attribute(texts)
    targets = [e.target for e in reference]

    # Captum's one-tweet call has n_steps rows: 64 (= n_steps by default) runs them in one pass, 32 in two.
    captum_sizes = sorted({32, 64, steps})
    configs: dict[str, Callable[[], object]] = {
        "lumos, one at a time (batch_size=1)": lambda: ig_one.attribute(texts),
        "lumos, batched (batch_size=16)": lambda: ig_batched.attribute(texts),
    }
    for size in captum_sizes:
        label = f"{size} = n_steps" if size == steps else str(size)
        configs[f"captum, one at a time (internal_batch_size={label})"] = (
            lambda size=size: [captum.explain(t, c, size) for t, c in zip(texts, targets)])

    # One untimed warm-up call of each configuration, on one tweet, before any timing.
    ig_one.attribute(texts[:1])
    ig_batched.attribute(texts[:1])
    for size in captum_sizes:
        captum.explain(texts[0], targets[0], size)

    seconds = time_rounds(configs, args.repeats)
    per_expl = {name: statistics.median(s) / n for name, s in seconds.items()}

    # Agreement and completeness, from one untimed run of each side.
    one = ig_one.attribute(texts)
    captum_out = [captum.explain(t, c, steps) for t, c in zip(texts, targets)]
    cos, lumos_rel, captum_rel, batched_vs_one = [], [], [], []
    for e, e1, (values, delta), text, c in zip(reference, one, captum_out, texts, targets):
        if values.shape != e.values.shape:
            raise RuntimeError(f"Token counts differ for {text!r}: lumos {e.values.shape}, captum {values.shape}.")
        cos.append(cosine(e.values, values))
        batched_vs_one.append(float(np.max(np.abs(e.values - e1.values))))
        gap_lumos = abs(e.output_value - e.base_value)
        fx, fx0 = captum.end_points(text, c)
        lumos_rel.append(abs(e.convergence_delta) / gap_lumos)
        captum_rel.append(abs(delta) / abs(fx - fx0))
    hooks = surviving_hooks(adapter.model)

    best_captum = min((k for k in per_expl if k.startswith("captum")), key=per_expl.get)
    best_lumos = min((k for k in per_expl if k.startswith("lumos")), key=per_expl.get)
    lumos_one = "lumos, one at a time (batch_size=1)"
    result = {
        "benchmark": TITLE,
        "date": datetime.date.today().isoformat(),
        "command": "python bench/ig_vs_captum.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": facts,
        "settings": {"n_tweets": n, "n_steps": steps, "method": "gausslegendre", "baseline": "pad",
                     "repeats": args.repeats, "output": "logit", "target": "lumos predicted class",
                     "n_tokens": [len(e.values) + 2 for e in reference]},
        "seconds_per_explanation": per_expl,
        "seconds_per_round": seconds,
        "best_captum": best_captum,
        "ratio_lumos_one_at_a_time_over_best_captum": per_expl[lumos_one] / per_expl[best_captum],
        "ratio_best_lumos_over_best_captum": per_expl[best_lumos] / per_expl[best_captum],
        "cosine": {"min": min(cos), "mean": statistics.fmean(cos), "per_tweet": cos},
        "lumos_batched_vs_one_at_a_time_max_abs_diff": max(batched_vs_one),
        "relative_convergence_delta": {
            "lumos_mean": statistics.fmean(lumos_rel), "lumos_max": max(lumos_rel),
            "captum_mean": statistics.fmean(captum_rel), "captum_max": max(captum_rel),
        },
        "hooks_left_on_model": hooks,
        "goals": {
            "ratio_le_1": per_expl[lumos_one] / per_expl[best_captum] <= 1.0,
            "cosine_min_ge_0.99": min(cos) >= 0.99,
            "no_hooks_left": hooks == 0,
        },
    }

    rows = [(f"s / explanation: {k}", f"{v:.3f}") for k, v in per_expl.items()]
    rows += [
        ("ratio lumos one-at-a-time / best Captum (goal <= 1.0)",
         f"{result['ratio_lumos_one_at_a_time_over_best_captum']:.2f}"),
        ("ratio best lumos / best Captum", f"{result['ratio_best_lumos_over_best_captum']:.2f}"),
        ("cosine lumos vs Captum, min (goal >= 0.99)", f"{min(cos):.6f}"),
        ("cosine lumos vs Captum, mean", f"{statistics.fmean(cos):.6f}"),
        ("lumos batched vs one at a time, max |diff|", f"{max(batched_vs_one):.2e}"),
        ("mean |delta| / |f(x)-f(x0)|, lumos", f"{statistics.fmean(lumos_rel):.2e}"),
        ("mean |delta| / |f(x)-f(x0)|, Captum", f"{statistics.fmean(captum_rel):.2e}"),
        ("hooks left on the model after Captum", str(hooks)),
    ]
    print_table(rows, f"{TITLE} ({n} tweets, {steps} Gauss-Legendre steps, median of {args.repeats}, "
                      f"{facts['torch_threads']} threads)")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "ig_vs_captum.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")
    if hooks:
        raise SystemExit(f"{hooks} hook(s) left on the model after Captum.")
    return result


if __name__ == "__main__":
    main()
