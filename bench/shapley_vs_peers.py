"""Shapley-value estimation per model call: lumos KernelSHAP against SHAP, Captum and LIME.

Setting (issue "Perturbation attributions that beat SHAP, Captum and LIME on accuracy per model call"): the
zoo's ``tweets-sentiment`` model; held-out tweets of at most 12 words; the game is the logit of the
predicted class with hidden words replaced by the [MASK] token (lumos's default text masker, which every
peer's game calls too, so all estimate the same game); ground truth is exact Shapley values computed here
by enumerating all 2^n coalitions (independently of lumos's ExactShapley).

Accuracy (relative L2 error) is measured on a cache of the game, so that many budgets and seeds cost no
model time; speed is measured on the real model, peers at their best batching and at their defaults.

Run: ``python bench/shapley_vs_peers.py [--n 10] [--evals 500] [--seeds 3] [--out bench/out]``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import torch

import lumos
from lumos.models.base import ModelAdapter

warnings.filterwarnings("ignore")


class CachedAdapter(ModelAdapter):
    """The zoo adapter with a memo of outputs per token-id row: accuracy runs then cost no model time."""

    def __init__(self, adapter) -> None:
        self.inner, self.cache = adapter, {}
        self.class_names, self.output_kind, self.name = adapter.class_names, adapter.output_kind, adapter.name
        self.tokenizer, self.max_length = adapter.tokenizer, adapter.max_length

    def split_inputs(self, inputs):
        return self.inner.split_inputs(inputs)

    def default_masker(self):
        return self.inner.default_masker()

    def fingerprint(self, example):
        return self.inner.fingerprint(example)

    def size(self, example):
        return len(example)

    def predict(self, rows, *, batch_size=None):
        keys = [tuple(int(t) for t in r) if not isinstance(r, str) else r for r in rows]
        missing = [i for i, k in enumerate(keys) if k not in self.cache]
        if missing:
            out = self.inner.predict([rows[i] for i in missing], batch_size=64)
            for i, o in zip(missing, out):
                self.cache[keys[i]] = o
        return np.stack([self.cache[k] for k in keys])


class Game:
    """v(mask rows) for one tweet, through lumos's masker and an adapter (cached or real)."""

    def __init__(self, adapter, text: str, target: int) -> None:
        self.adapter, self.text, self.target = adapter, text, target
        self.masker = adapter.default_masker()
        self.prepared = self.masker.prepare(text)
        self.n = self.prepared.n_features
        self.calls = 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        masks = np.asarray(masks) > 0.5
        self.calls += len(masks)
        rows = self.masker.apply(self.prepared, masks)
        return self.adapter.predict(rows, batch_size=64)[:, self.target].astype(np.float64)


def exact_shapley(game: Game) -> np.ndarray:
    n = game.n
    masks = np.array([[(s >> i) & 1 for i in range(n)] for s in range(2 ** n)], dtype=bool)
    v = game(masks)
    index = {tuple(m): k for k, m in enumerate(masks.tolist())}
    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in combinations(others, size):
                m = [False] * n
                for j in subset:
                    m[j] = True
                without = v[index[tuple(m)]]
                m[i] = True
                phi[i] += weight * (v[index[tuple(m)]] - without)
    return phi


def rel_err(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


# -- the estimators ------------------------------------------------------------------------------------------
def lumos_kernelshap(adapter, texts, targets, evals, seed, batch_size=64):
    method = lumos.KernelSHAP(adapter, n_evals=evals, seed=seed, batch_size=batch_size, progress=False)
    return [e.values for e in method.attribute(list(texts), target=list(targets))]


def shap_kernel(game: Game, evals: int, seed: int, l1_reg="off") -> np.ndarray:
    import shap

    np.random.seed(seed)  # shap's KernelExplainer samples from numpy's global generator
    explainer = shap.KernelExplainer(game, np.zeros((1, game.n)))
    # KernelExplainer evaluates the background and the instance besides nsamples: count them in the budget.
    options = {"l1_reg": False} if l1_reg == "off" else {}  # otherwise shap's default l1_reg
    values = explainer.shap_values(np.ones((1, game.n)), nsamples=evals - 2, silent=True, **options)
    return np.asarray(values).reshape(-1)[: game.n]


def captum_kernelshap(game: Game, evals: int, seed: int, per_eval: int) -> np.ndarray:
    from captum.attr import KernelShap

    torch.manual_seed(seed)

    def forward(z: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(game(z.numpy()))

    out = KernelShap(forward).attribute(torch.ones(1, game.n), baselines=0.0, n_samples=evals,
                                        perturbations_per_eval=per_eval)
    return out.numpy().reshape(-1)


def lime_text(game: Game, evals: int, seed: int) -> np.ndarray:
    """LIME's estimate for the same game: LIME perturbs the text by replacing words with the mask string, and
    its classifier function turns each perturbed text back into the word mask it stands for and evaluates the
    game on it (so a hidden word of three word pieces is three [MASK] tokens, as for every other estimator)."""
    from lime.lime_text import LimeTextExplainer

    mask_string = "\x00"  # cannot occur in a tweet: a word equal to it was hidden by LIME
    words = game.text.split()
    if len(words) != game.n:
        raise ValueError(f"LIME splits {game.text!r} into {len(words)} words, the masker into {game.n}")

    def predict(texts):
        masks = np.array([[w != mask_string for w in t.split()] for t in texts], dtype=bool)
        out = np.zeros((len(texts), game.target + 1))
        out[:, game.target] = game(masks)  # LIME regresses this column only (labels=(target,))
        return out

    explainer = LimeTextExplainer(bow=False, split_expression=r"\s+", mask_string=mask_string, random_state=seed)
    exp = explainer.explain_instance(game.text, predict, labels=(game.target,), num_features=game.n,
                                     num_samples=evals)
    values = np.zeros(game.n)
    for index, weight in exp.as_map()[game.target]:
        values[index] = weight
    return values


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--evals", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    args = parser.parse_args(argv)
    model = lumos.zoo.load("tweets-sentiment", progress=False)
    texts = [t for t in lumos.zoo.dataset("airline-tweets").test.texts if 6 <= len(t.split()) <= 12][: args.n]
    targets = [int(p.argmax()) for p in model.predict(texts)]
    cached = CachedAdapter(model)
    games = [Game(cached, t, c) for t, c in zip(texts, targets)]
    t0 = time.perf_counter()
    truths = [exact_shapley(g) for g in games]
    print(f"exact Shapley for {len(texts)} tweets ({[g.n for g in games]} words) in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)
    seeds = range(args.seeds)

    def mean_error(fn) -> float:
        return statistics.fmean(rel_err(fn(i, s), truths[i]) for i in range(len(games)) for s in seeds)

    E = args.evals
    errors = {
        "lumos KernelSHAP": mean_error(lambda i, s: lumos_kernelshap(cached, [texts[i]], [targets[i]], E, s)[0]),
        "SHAP KernelExplainer (l1_reg=False)": mean_error(lambda i, s: shap_kernel(games[i], E, s)),
        "SHAP KernelExplainer (default l1_reg)": mean_error(lambda i, s: shap_kernel(games[i], E, s, "auto")),
        "Captum KernelShap": mean_error(lambda i, s: captum_kernelshap(games[i], E, s, 64)),
        "LIME (lime package, bow=False)": mean_error(lambda i, s: lime_text(games[i], E, s)),
    }
    budgets = [50, 100, 150, 200, 300, 400, 500, 750, 1000]
    lumos_curve = {b: mean_error(lambda i, s, b=b: lumos_kernelshap(cached, [texts[i]], [targets[i]], b, s)[0])
                   for b in budgets}
    shap_err = errors["SHAP KernelExplainer (l1_reg=False)"]
    reach = next((b for b in budgets if lumos_curve[b] <= shap_err), None)

    # Speed on the real model: every estimator explains all tweets at E evaluations. The forward throughput is
    # the best of three passes over E random masks per tweet at batch size 64 (masking keeps a text's length,
    # so every estimator's rows cost the same per row).
    rows = [r for g in games for r in g.masker.apply(g.prepared, np.random.default_rng(0).random((E, g.n)) > 0.5)]
    model.predict(rows[:64])
    passes = []
    for _ in range(3):
        t = time.perf_counter(); model.predict(rows, batch_size=64); passes.append(time.perf_counter() - t)
    forward = min(passes) / len(rows)
    real_games = [Game(model, t, c) for t, c in zip(texts, targets)]
    timings, evaluations = {}, {}

    def timed(label, fn):
        fn()  # warm-up
        t = time.perf_counter(); rows_used = fn(); timings[label] = (time.perf_counter() - t) / len(texts)
        evaluations[label] = rows_used / len(texts)

    def lumos_rows(texts_, targets_, one_per_call):
        method = lumos.KernelSHAP(model, n_evals=E, seed=0, batch_size=64, progress=False)
        if one_per_call:
            return sum(method.attribute(t, target=c).cost.n_evals for t, c in zip(texts_, targets_))
        return sum(e.cost.n_evals for e in method.attribute(list(texts_), target=list(targets_)))

    def peer_rows(fn):
        def run():
            for g in real_games:
                g.calls = 0
            fn()
            return sum(g.calls for g in real_games)
        return run

    timed("lumos KernelSHAP, all tweets in one call", lambda: lumos_rows(texts, targets, False))
    timed("lumos KernelSHAP, one tweet per call", lambda: lumos_rows(texts, targets, True))
    timed("SHAP KernelExplainer", peer_rows(lambda: [shap_kernel(g, E, 0) for g in real_games]))
    timed("Captum KernelShap, perturbations_per_eval=64",
          peer_rows(lambda: [captum_kernelshap(g, E, 0, 64) for g in real_games]))
    timed("Captum KernelShap, default perturbations_per_eval=1",
          peer_rows(lambda: [captum_kernelshap(g, E, 0, 1) for g in real_games]))
    timed("LIME", peer_rows(lambda: [lime_text(g, E, 0) for g in real_games]))
    result = {
        "setting": {"tweets": texts, "words": [g.n for g in games], "evals": E, "seeds": args.seeds,
                    "threads": torch.get_num_threads()},
        "relative_l2_error_at_evals": errors,
        "ratio_lumos_over_shap_kernel": errors["lumos KernelSHAP"] / shap_err,
        "ratio_lumos_over_captum": errors["lumos KernelSHAP"] / errors["Captum KernelShap"],
        "lumos_error_by_budget": lumos_curve,
        "lumos_evals_to_reach_shap_error_at_evals": reach,
        "forward_seconds_per_row": forward,
        "seconds_per_explanation": timings,
        "evaluations_per_explanation": evaluations,
        "ratio_lumos_seconds_over_peer": {k: timings["lumos KernelSHAP, all tweets in one call"] / v
                                          for k, v in timings.items() if not k.startswith("lumos")},
        # wall time / (the estimator's own evaluations at the best measured forward throughput)
        "overhead_ratio": {k: v / (evaluations[k] * forward) for k, v in timings.items()},
    }
    print(json.dumps(result, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shapley_vs_peers.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
