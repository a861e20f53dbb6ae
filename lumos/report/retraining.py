"""The report's "Feedback retraining" section as plain data: for a model retrained from people's feedback
(:func:`lumos.feedback.retrain`, loaded from its directory), what changed against the model it came from.

- accuracy of the parent and of the new version on the report's held-out data, and the two measures taken when
  it was retrained (validation accuracy, share of attribution on the features people marked irrelevant);
- the training curves (loss terms and validation accuracy per epoch);
- example explanations before and after: the same texts explained by the same method on both models.

The parent is found from the new version's card (``parent``: a zoo name or a model directory), so nothing
reaches back into the feedback store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..attribution import get_method
from ..attribution.registry import preset
from ..models import ModelAdapter, as_adapter
from .common import LineChart, SectionData, Series, word_rows

__all__ = ["RetrainingData", "retraining_section", "is_retrained_card"]

#: The method whose explanations are compared before and after (the penalty of "right for the right reasons"
#: acts on input gradients; Integrated Gradients is their faithful, complete form).
METHOD = "integrated_gradients"
#: Examples shown before and after.
N_EXAMPLES = 4


def is_retrained_card(card: dict[str, Any]) -> bool:
    """Whether a model card is that of a retrained model version (it records its parent and both measures)."""
    return "parent" in card and "metrics_before" in card and "metrics_after" in card


@dataclass
class RetrainingData(SectionData):
    """What retraining changed: ``measures`` rows ``{"measure", "before", "after", "better"}``, the setting
    ``rows`` ``(label, value)``, the per-epoch ``curves`` (loss terms, measures), and ``examples``: per text
    ``{"index", "text", "rows"}`` with a "before" and an "after" heat row of :data:`METHOD`."""

    parent: str
    parent_model_id: str
    model_id: str
    method: str
    settings: list[tuple[str, Any]]
    measures: list[dict[str, Any]]
    curves: list[LineChart]
    explained_by: str
    examples: list[dict[str, Any]]


def retraining_section(adapter: ModelAdapter, *,
                       held_out: tuple[Sequence[Any], np.ndarray, np.ndarray] | None = None,
                       texts: Sequence[str] = (), batch_size: int = 64) -> RetrainingData:
    """The section of a retrained ``adapter`` (its card says :func:`is_retrained_card`).

    Parameters
    ----------
    adapter : ModelAdapter
        The new model version.
    held_out : (examples, labels, probabilities), optional
        The report's held-out data and the new version's probabilities on it (which the report has computed
        already): the parent's accuracy on the same examples is measured beside the new version's.
    texts : sequence of str
        Texts explained by both models (the first :data:`N_EXAMPLES`); empty for models that do not read texts.
    """
    card = adapter.card
    parent = as_adapter(card["parent"])
    before, after = card["metrics_before"], card["metrics_after"]
    measures = []
    if held_out is not None:
        examples, labels, probabilities = held_out
        labels = np.asarray(labels)
        accuracy = [float((p.argmax(1) == labels).mean()) for p in
                    (parent.predict_proba(list(examples), batch_size=batch_size), np.asarray(probabilities))]
        measures.append({"measure": f"accuracy on the report's {len(labels):,} held-out examples",
                         "before": accuracy[0], "after": accuracy[1], "better": "higher"})
    measures.append({"measure": "validation accuracy when retrained", "before": before.get("accuracy"),
                     "after": after.get("accuracy"), "better": "higher"})
    measures.append({"measure": "share of attribution on the features marked irrelevant",
                     "before": before.get("marked_share"), "after": after.get("marked_share"), "better": "lower"})
    settings = [("parent", parent.name), ("method", card.get("retraining", card.get("method"))),
                ("lambda", card.get("lambda")), ("parameters trained", card.get("train")),
                ("epochs", card.get("epochs")), ("feedback records", len(card.get("feedback_ids") or ())),
                ("annotated examples", card.get("n_annotated")), ("training examples", card.get("n_train"))]
    shown = []
    if texts:
        settings_of = preset("text").get(METHOD, {})
        explained = {name: get_method(METHOD)(model, **settings_of).attribute(list(texts[:N_EXAMPLES]))
                     for name, model in (("before", parent), ("after", adapter))}
        for i, text in enumerate(texts[:N_EXAMPLES]):
            shown.append({"index": i, "text": text,
                          "rows": word_rows({name: result[i] for name, result in explained.items()})})
    return RetrainingData(parent=str(card["parent"]), parent_model_id=str(card.get("parent_model_id", "")),
                          model_id=adapter.model_id, method=str(card.get("retraining", card.get("method", ""))),
                          settings=[(k, v) for k, v in settings if v is not None], measures=measures,
                          curves=_curves(card.get("history") or []), explained_by=METHOD, examples=shown)


def _curves(history: Sequence[dict[str, float]]) -> list[LineChart]:
    """Per epoch: the loss terms in one chart, the measures (validation accuracy, marked share) in another."""
    if not history:
        return []
    epochs = [float(h.get("epoch", i + 1)) for i, h in enumerate(history)]
    keys = [k for k in history[0] if k != "epoch"
            and any(isinstance(h.get(k), (int, float)) and math.isfinite(float(h[k])) for h in history)]
    charts = []
    for title, y_label, chosen in (("Loss terms per epoch", "mean over the epoch", [k for k in keys if "/" not in k]),
                                   ("Measures per epoch", "value", [k for k in keys if "/" in k])):
        series = [Series(k.replace("_", " "), epochs, [float(h.get(k, math.nan)) for h in history]) for k in chosen]
        if series:
            charts.append(LineChart(title, "epoch", y_label, series))
    return charts
