"""Run every method and every quality metric on a dataset, summarize with confidence intervals, and rank
methods by faithfulness per second."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..attribution.registry import make_methods
from ..engine import Batcher, track
from ..errors import InvalidArgumentError, check_int
from ..explanation import ExplanationSet
from ..models import as_adapter
from .agreement import rank_agreement
from .baselines import RandomAttribution
from .faithfulness import faithfulness, faithfulness_correlation
from .plausibility import plausibility
from .robustness import complexity, max_sensitivity, sparseness
from .sanity import SanityResult, model_randomization
from ._common import mean_ci

__all__ = ["METRICS", "Metric", "MethodEvaluation", "EvaluationResult", "evaluate"]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool | None  # None: informational
    description: str


#: The table's columns, in order.
METRICS: tuple[Metric, ...] = (
    Metric("gap", "faithfulness gap", True, "LeRF − MoRF deletion AUC (0 = random ranking)"),
    Metric("deletion_auc", "deletion AUC", False, "area under the MoRF deletion curve (probability)"),
    Metric("insertion_auc", "insertion AUC", True, "area under the insertion curve (probability)"),
    Metric("comprehensiveness", "comprehensiveness", True, "ERASER AOPC over top 1/5/10/20/50 %"),
    Metric("sufficiency", "sufficiency", False, "ERASER AOPC over top 1/5/10/20/50 %"),
    Metric("faithfulness_correlation", "faithfulness corr.", True, "Pearson r of attribution mass and output drop"),
    Metric("max_sensitivity", "max-sensitivity", False, "relative change under word drops (subset)"),
    Metric("complexity", "complexity", False, "entropy of normalized |attributions| (nats)"),
    Metric("sparseness", "sparseness", True, "Gini index of |attributions|"),
    Metric("randomization", "randomization ρ", False, "rank corr. after randomizing every layer (subset)"),
    Metric("agreement", "agreement ρ", None, "mean Spearman ρ with the other methods"),
    Metric("auprc", "rationale AUPRC", True, "average precision against human rationales"),
    Metric("rationale_f1", "rationale F1", True, "top-k F1 against human rationales"),
)


@dataclass
class MethodEvaluation:
    """One method's explanations and metric values over the evaluated examples."""

    method: str
    params: dict[str, Any]
    seconds_per_explanation: float
    evals_per_explanation: float
    per_example: dict[str, np.ndarray] = field(default_factory=dict)
    #: Mean deletion (MoRF) and insertion curves on ``EvaluationResult.grid``.
    deletion_curve: np.ndarray | None = None
    insertion_curve: np.ndarray | None = None
    sanity: SanityResult | None = None

    def summary(self, key: str) -> tuple[float, float, int]:
        """Mean, 95% confidence half-width (t interval over examples) and count of one metric."""
        if key not in self.per_example:
            return float("nan"), float("nan"), 0
        return mean_ci(self.per_example[key])

    @property
    def faithfulness_per_second(self) -> float:
        """Mean faithfulness gap divided by seconds per explanation."""
        return self.summary("gap")[0] / max(self.seconds_per_explanation, 1e-9)


@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured.

    ``ranking`` orders methods by faithfulness per second among those that are better than random (mean
    gap above the random baseline's upper confidence bound, or above 0 without a baseline) and pass the
    randomization check where it ran; the rest follow by their gap.
    """

    model: str
    data: str
    n: int
    seconds: float
    methods: list[MethodEvaluation]
    grid: np.ndarray
    settings: dict[str, Any] = field(default_factory=dict)

    def by_name(self, name: str) -> MethodEvaluation:
        for m in self.methods:
            if m.method == name:
                return m
        raise InvalidArgumentError(f"No method {name!r} was evaluated; evaluated: "
                                   f"{', '.join(m.method for m in self.methods)}.")

    def metrics(self) -> list[Metric]:
        """The metrics measured for at least one method."""
        return [m for m in METRICS if any(m.key in e.per_example for e in self.methods)]

    @property
    def ranking(self) -> list[dict[str, Any]]:
        chance = 0.0
        for m in self.methods:
            if m.method == "random":
                mean, half, _ = m.summary("gap")
                chance = mean + (half if np.isfinite(half) else 0.0)
        rows = []
        for m in self.methods:
            if m.method == "random":
                continue
            gap = m.summary("gap")[0]
            reasons = []
            if not gap > chance:
                reasons.append("not better than random")
            if m.sanity is not None and not m.sanity.passed:
                reasons.append("fails the randomization check")
            rows.append({"method": m.method, "gap": gap, "seconds": m.seconds_per_explanation,
                         "per_second": m.faithfulness_per_second, "trusted": not reasons, "reasons": reasons})
        rows.sort(key=lambda r: (not r["trusted"], -r["per_second"] if r["trusted"] else -r["gap"]))
        return rows

    def _repr_html_(self) -> str:
        """The ranking and every metric's mean ± 95% half-width per method, as offline, escaped HTML."""
        from ..rendering import table_html, text

        ranking = table_html(["method", "faithfulness gap", "s / explanation", "gap per second", "trusted"],
                             [(r["method"], r["gap"], r["seconds"], r["per_second"],
                               "yes" if r["trusted"] else "no: " + "; ".join(r["reasons"])) for r in self.ranking],
                             caption="Ranking (faithfulness per second among trusted methods)")
        metrics = self.metrics()

        def cell(m: MethodEvaluation, key: str) -> str:
            mean, half, n = m.summary(key)
            return "–" if n == 0 or not np.isfinite(mean) else (
                f"{mean:.3f}" + (f" ± {half:.3f}" if np.isfinite(half) else ""))

        table = table_html(["method", *(f"{m.label} {'↑' if m.higher_is_better else '↓' if m.higher_is_better is False else ''}"
                                        for m in metrics)],
                           [(m.method, *(cell(m, k.key) for k in metrics)) for m in self.methods],
                           caption="Metrics (mean ± 95% CI half-width over examples)")
        return (f'<div class="lumos-evaluation" style="font-family:system-ui,sans-serif;font-size:13px">'
                f"<div><b>Evaluation</b> of {text(self.model)} on {self.n} examples of {text(self.data)} "
                f"({self.seconds:.1f} s)</div>{ranking}<br>{table}</div>")

    def plot(self, ax: Any = None) -> Any:
        """Mean deletion (MoRF, solid) and insertion (dashed) curves of every method, with matplotlib."""
        from ..rendering import axes

        ax = axes(ax)
        for i, m in enumerate(self.methods):
            color = f"C{i % 10}"
            if m.deletion_curve is not None:
                ax.plot(self.grid, m.deletion_curve, color=color, label=f"{m.method} deletion")
            if m.insertion_curve is not None:
                ax.plot(self.grid, m.insertion_curve, color=color, linestyle="--", label=f"{m.method} insertion")
        ax.set_xlabel("fraction of features removed (deletion) / shown (insertion)")
        ax.set_ylabel("model output")
        ax.legend(fontsize="small")
        return ax

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (means, confidence half-widths, counts, curves, sanity per layer, ranking)."""
        def clean(v: float) -> float | None:
            return float(v) if v is not None and np.isfinite(v) else None

        methods = []
        for m in self.methods:
            entry: dict[str, Any] = {"method": m.method, "params": m.params,
                                     "seconds_per_explanation": m.seconds_per_explanation,
                                     "evals_per_explanation": m.evals_per_explanation, "metrics": {}}
            for metric in self.metrics():
                mean, half, n = m.summary(metric.key)
                entry["metrics"][metric.key] = {"mean": clean(mean), "ci95": clean(half), "n": n}
            if m.deletion_curve is not None:
                entry["deletion_curve"] = [clean(v) for v in m.deletion_curve]
                entry["insertion_curve"] = [clean(v) for v in m.insertion_curve]
            if m.sanity is not None:
                entry["sanity"] = {"layers": list(m.sanity.layers), "mean": [clean(v) for v in m.sanity.mean],
                                   "passed": m.sanity.passed, "threshold": m.sanity.threshold}
            methods.append(entry)
        return {"model": self.model, "data": self.data, "n": self.n, "seconds": self.seconds,
                "grid": self.grid.tolist(), "settings": self.settings, "methods": methods,
                "ranking": [{k: (clean(v) if isinstance(v, float) else v) for k, v in r.items()}
                            for r in self.ranking]}


def evaluate(model: Any, texts: Sequence[str], *, methods: Sequence[str] | Mapping[str, Any] | None = None,
             baseline: bool = True, n_sanity: int = 3, n_sensitivity: int = 5, rationales: Sequence[Any] | None = None,
             max_steps: int = 10, n_subsets: int = 10, seed: int = 0, batch_size: int = 64,
             data_name: str = "texts", progress: bool | None = None) -> EvaluationResult:
    """Explain ``texts`` with every method and measure every explanation-quality metric.

    Faithfulness (deletion / insertion AUC, comprehensiveness, sufficiency, faithfulness correlation) and
    form (complexity, sparseness) are measured on every text; max-sensitivity on the first
    ``n_sensitivity`` texts and the model-randomization check on the first ``n_sanity`` (both re-run the
    method many times). Agreement is each method's mean Spearman correlation with the other methods
    (the random baseline excluded). See each metric's function for its definition, direction and reference.

    Parameters
    ----------
    model : model, adapter or zoo name
    texts : sequence of str
    methods : names, or a mapping of name to method instance; default: the methods of the ``"text"`` preset
        (:func:`lumos.attribution.registry.preset_methods`) with its settings.
    baseline : bool, default True
        Add the random attribution (:class:`~lumos.metrics.RandomAttribution`) as the chance level.
    n_sanity, n_sensitivity : int, default 3 and 5
        Texts for the randomization check and for max-sensitivity (0 skips them); sensitivity uses 3 word-drop
        perturbations per text.
    max_steps, n_subsets : int, default 10 and 10
        Curve points and random subsets per text (fewer than the metric functions' defaults: evaluate runs
        every method on every text).
    rationales : sequence, optional
        One human rationale per text (highlighted words or a 0/1 word mask): adds AUPRC and F1.
    seed, batch_size : see :func:`~lumos.metrics.faithfulness` and
        :func:`~lumos.metrics.faithfulness_correlation`.

    Returns
    -------
    EvaluationResult
    """
    owner = "evaluate"
    t_start = time.perf_counter()
    adapter = as_adapter(model)
    texts = list(texts)
    if not texts:
        raise InvalidArgumentError("The 'texts' parameter of evaluate must hold at least one text. Got none.")
    n_sanity = check_int(n_sanity, "n_sanity", owner=owner, minimum=0)
    n_sensitivity = check_int(n_sensitivity, "n_sensitivity", owner=owner, minimum=0)
    if rationales is not None and len(rationales) != len(texts):
        raise InvalidArgumentError(f"The 'rationales' parameter of evaluate must hold one rationale per text "
                                   f"({len(texts)}). Got {len(rationales)}.")
    generative = adapter.task == "causal_lm"
    output = "log_probability" if generative else "probability"
    inputs = None
    if generative:
        # The prompts are continued once; every method explains the same continuations. Metrics that re-run a
        # method on perturbed or re-randomized inputs are for classifiers (their inputs are texts).
        inputs = [adapter.generate(t) for t in track(texts, description="Generating", enabled=progress)]
        n_sanity = n_sensitivity = 0
    if isinstance(methods, Mapping):
        instances = dict(methods)
    else:
        instances, _notes = make_methods(adapter, None if methods is None else list(methods),
                                         "generation" if generative else "text")
    if baseline:
        instances["random"] = RandomAttribution(adapter, seed=seed)
    grid = np.linspace(0, 1, 21)
    results: list[MethodEvaluation] = []
    explained: dict[str, ExplanationSet] = {}
    for name, method in track(list(instances.items()), description="Explaining", enabled=progress):
        t0 = time.perf_counter()
        explanations = method.attribute(inputs if generative else texts)
        seconds = (time.perf_counter() - t0) / len(texts)
        if generative:  # the whole continuation, explained by the prompt's words
            explanations = continuation_explanations(adapter, explanations, inputs)
        explained[name] = explanations
        results.append(MethodEvaluation(method=name, params=method.params(), seconds_per_explanation=seconds,
                                        evals_per_explanation=explanations.cost.n_evals / len(texts)))
    # The curves of every method in one batched pass, through one executor that remembers what it ran: the masked
    # inputs that several methods (or metrics) share, such as each text's full and empty input and the random
    # subsets of faithfulness correlation (drawn per text, the same for every method), run once.
    executor = Batcher(adapter, batch_size=batch_size, progress=progress, memo=True)
    every = [e for name in explained for e in explained[name]]
    every_input = None if inputs is None else [x for _ in explained for x in inputs]
    faith_all = faithfulness(adapter, every, inputs=every_input, max_steps=max_steps, seed=seed, output=output,
                             executor=executor)
    correlation_all = faithfulness_correlation(adapter, every, inputs=every_input, n_subsets=n_subsets, seed=seed,
                                               output=output, executor=executor)
    for k, (ev, (name, method)) in enumerate(zip(results, instances.items())):
        explanations = explained[name]
        faith = faith_all[k * len(texts):(k + 1) * len(texts)]
        ev.per_example.update({
            "gap": np.array([r.gap for r in faith]),
            "deletion_auc": np.array([r.deletion_auc for r in faith]),
            "insertion_auc": np.array([r.insertion_auc for r in faith]),
            "comprehensiveness": np.array([r.aopc_comprehensiveness for r in faith]),
            "sufficiency": np.array([r.aopc_sufficiency for r in faith]),
        })
        ev.deletion_curve = np.mean([np.interp(grid, r.fractions, r.deletion) for r in faith], axis=0)
        ev.insertion_curve = np.mean([np.interp(grid, r.fractions, r.insertion) for r in faith], axis=0)
        ev.per_example["faithfulness_correlation"] = correlation_all[k * len(texts):(k + 1) * len(texts)]
        ev.per_example["complexity"] = complexity(explanations)
        ev.per_example["sparseness"] = sparseness(explanations)
    for ev, (name, method) in track(list(zip(results, instances.items())), description="Sanity and sensitivity",
                                    enabled=progress):
        explanations = explained[name]
        if n_sensitivity:
            ev.per_example["max_sensitivity"] = max_sensitivity(method, explanations[:n_sensitivity],
                                                              n_perturbations=3, seed=seed)
        if n_sanity and adapter.module is not None:
            ev.sanity = model_randomization(method, texts[:n_sanity], target=[e.target for e in explanations[:n_sanity]],
                                            seed=seed)
            ev.per_example["randomization"] = ev.sanity.correlation[-1]
        if rationales is not None:
            plaus = plausibility(explanations, rationales)
            ev.per_example["auprc"], ev.per_example["rationale_f1"] = plaus.auprc, plaus.f1
    names = [n for n in explained if n != "random"]
    for ev in results:
        others = [o for o in names if o != ev.method]
        if others and ev.method != "random":
            ev.per_example["agreement"] = np.nanmean(
                np.stack([rank_agreement(explained[ev.method], explained[o]) for o in others]), axis=0) \
                if len(texts) else np.array([])
    return EvaluationResult(model=adapter.name, data=data_name, n=len(texts), seconds=time.perf_counter() - t_start,
                            methods=results, grid=grid,
                            settings={"n_sanity": min(n_sanity, len(texts)),
                                      "n_sensitivity": min(n_sensitivity, len(texts)), "max_steps": max_steps,
                                      "n_subsets": n_subsets, "seed": seed, "output": output})


def continuation_explanations(adapter: Any, explanations: Any, generations: Sequence[Any]) -> ExplanationSet:
    """Each generation's explanation as the attribution of its whole continuation to the prompt's words (the
    adapter's default masker's features): rows summed, tokens summed per word. Metrics rank these."""
    from ..explanation import Explanation

    masker = adapter.default_masker()
    out = []
    for e, g in zip(explanations, generations):
        prepared = masker.prepare(g)
        if e.targets is None and tuple(e.features) == tuple(prepared.labels):
            out.append(e)
            continue
        out.append(Explanation(
            values=masker.feature_values(e, prepared), features=prepared.labels, target=0,
            prediction=np.array([float(np.prod(e.prediction))]), class_names=(g.continuation,), method=e.method,
            params=e.params, output=e.output, cost=e.cost, text=prepared.text, words=prepared.words,
            word_index=prepared.word_index, model_id=e.model_id, input_id=e.input_id))
    return ExplanationSet(out)


def render_table(result: EvaluationResult) -> Any:
    """The methods × metrics table (rich), each cell ``mean ± 95% CI``; arrows give each metric's direction."""
    from rich.table import Table

    table = Table(title=f"Explanation quality: {result.model} on {result.n} texts of {result.data}")
    table.add_column("method")
    metrics = result.metrics()
    for m in metrics:
        arrow = "" if m.higher_is_better is None else (" ↑" if m.higher_is_better else " ↓")
        table.add_column(m.label + arrow, justify="right")
    table.add_column("s / expl.", justify="right")
    for ev in result.methods:
        cells = []
        for m in metrics:
            mean, half, n = ev.summary(m.key)
            cells.append("–" if n == 0 else f"{mean:.3f}" + (f" ± {half:.3f}" if np.isfinite(half) else ""))
        table.add_row(ev.method, *cells, f"{ev.seconds_per_explanation:.3g}")
    return table


def render_ranking(result: EvaluationResult) -> Any:
    """The ranking table (rich): faithfulness per second among trusted methods, then the rest."""
    from rich.table import Table

    table = Table(title="Which explanation to trust (ranked by faithfulness gap per second)")
    for col in ("rank", "method", "gap", "s / expl.", "gap / s", "verdict"):
        table.add_column(col, justify="left" if col in ("method", "verdict") else "right")
    for i, r in enumerate(result.ranking, 1):
        verdict = "trusted" if r["trusted"] else "; ".join(r["reasons"])
        table.add_row(str(i), r["method"], f"{r['gap']:.3f}", f"{r['seconds']:.3g}", f"{r['per_second']:.3g}",
                      verdict)
    return table
