"""Compute the report's contents as plain data (:func:`report_data`), then render them with the HTML template
(:func:`build_report`, through :mod:`lumos.report.render`).

The report is one self-contained HTML file: inline CSS, no scripts or fonts from a network, every piece of
text escaped by the template engine.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..attribution.registry import make_methods, preset, preset_methods
from ..errors import InvalidArgumentError, check_int, check_output_path
from ..models import ModelAdapter, as_adapter
from .common import Example, MethodSummary, ReportData, card_rows, evaluate_held_out, explain_all, word_rows
from .data import input_kind, load_labelled_texts
from .retraining import is_retrained_card, retraining_section

__all__ = ["DEFAULT_METHODS", "ReportData", "MethodSummary", "build_report", "report_data", "text_report",
           "default_methods", "explain_all", "make_methods"]

#: Methods shown in the report of a text model by registry name, with the settings used there: the registry's
#: ``"text"`` preset (:func:`lumos.attribution.registry.preset`).
DEFAULT_METHODS: dict[str, dict[str, Any]] = preset("text")


def default_methods() -> list[str]:
    """The names of :data:`DEFAULT_METHODS` that are registered (a method not installed is left out)."""
    return preset_methods("text")


def _builders() -> dict[str, Callable[..., ReportData]]:
    """The report data of each kind of input other than texts (see :func:`lumos.report.data.input_kind`)."""
    from .images import image_report
    from .tables import table_report

    return {"images": image_report, "tables": table_report}


def build_report(model: Any = "tweets-sentiment", *, data: str | None = None, n: int = 50,
                 out: str | Path = "lumos-report", methods: Sequence[str] | None = None,
                 batch_size: int | None = None, progress: bool | None = None, quality_n: int = 0,
                 compress: Sequence[str] = (), cache: bool = False) -> Path:
    """Explain ``n`` held-out examples with each method and write ``out/index.html``: :func:`report_data`,
    rendered. ``out`` (default "lumos-report") is created; the other parameters are :func:`report_data`'s."""
    from .render import write_report

    check_output_path(out, "out", kind="directory", owner="build_report")  # before the work, not after it
    return write_report(report_data(model, data=data, n=n, methods=methods, batch_size=batch_size,
                                    progress=progress, quality_n=quality_n, compress=compress, cache=cache), out)


def report_data(model: Any = "tweets-sentiment", *, data: str | None = None, n: int = 50,
                methods: Sequence[str] | None = None, batch_size: int | None = None, progress: bool | None = None,
                quality_n: int = 0, compress: Sequence[str] = (), cache: bool = False) -> ReportData:
    """Explain ``n`` held-out examples with each method: everything the report shows, as data.

    Text classifiers get word heat lines, attention and representations; image models saliency overlays
    (:func:`lumos.report.images.build_image_report`); table models feature attributions, permutation importance
    and a surrogate tree (:func:`lumos.report.tables.build_table_report`). The kind of input the model reads
    (:func:`lumos.report.data.input_kind`) decides.

    Parameters
    ----------
    model : zoo name, model directory, module or adapter
    data : zoo dataset name or CSV path; default: the zoo model's dataset (its test split)
        Texts: columns ``text`` and ``label``. Tables: the model's feature columns and ``label``. Images: a
        directory of image files.
    n : int, default 50
        Examples explained (the first ``n`` of the held-out data, so runs are comparable).
    methods : names of attribution methods, default :func:`default_methods`
    batch_size : int, optional
        Examples per model call when predicting the held-out data; default 64 for texts, 4096 rows for tables,
        32 for images.
    quality_n : int, default 0
        Texts (the first ``quality_n``) for the "Explanation quality" section (:func:`lumos.metrics.evaluate`
        with every method; 0 leaves the section out, as it re-runs each method several times). Texts only.
    compress : sequence of str, default ()
        Compression specs (``"prune:0.5"``, ``"heads:4"``, ``"int8"``, ``"distill:3"``, see
        :func:`lumos.compression.parse_spec`) for the "Compression" section: each copy is compared with the model
        on the held-out data, and the first ``n`` examples are explained by saliency, Integrated Gradients and
        occlusion on every model. Empty leaves the section out. Texts only.

    Returns
    -------
    ReportData
        Its ``kind`` says which page renders it; each section's ``to_dict()`` is JSON-ready.
    """
    n = check_int(n, "n", owner="build_report", minimum=1)
    quality_n = check_int(quality_n, "quality_n", owner="build_report", minimum=0)
    from ..attribution import get_method
    from ..compression import parse_spec

    if methods is not None:
        if isinstance(methods, str) or not list(methods):
            raise InvalidArgumentError("The 'methods' argument of build_report must be a non-empty list of method "
                                       f"names (see `lumos methods`), or None for the default. Got {methods!r}.")
        for name in methods:
            get_method(name)  # an unknown name fails before any work

    for spec in compress:
        parse_spec(spec)  # a bad spec fails before any work
    adapter = as_adapter(model)
    if adapter.task == "regressor":  # the pages show classes (accuracy, confusion, calibration)
        from ..errors import UnsupportedModelError

        raise UnsupportedModelError(f"The report covers classifiers and language models; {adapter.name!r} is a "
                                    "regressor. Explain its predictions with the attribution methods "
                                    f"(`lumos explain --model {adapter.name} --row N`, or the Python API).")
    if adapter.task == "causal_lm":
        if compress:
            raise InvalidArgumentError(f"The 'compress' argument of build_report (--compress) applies to classifiers; "
                                       f"{adapter.name!r} is a causal language model. Got {list(compress)!r}.")
        from .generation import generation_report

        return generation_report(adapter, data=data, n=n, methods=methods, quality_n=quality_n, progress=progress)
    kind = input_kind(adapter)
    if kind != "texts":
        if quality_n or compress:
            raise InvalidArgumentError(f"The 'quality_n' and 'compress' arguments of build_report (--quality, "
                                       f"--compress) apply to text classifiers only; {adapter.name!r} reads {kind}. "
                                       f"Got quality_n={quality_n!r}, compress={list(compress)!r}.")
        report = _builders()[kind](adapter, data=data, n=n, methods=methods, batch_size=batch_size,
                                   progress=progress)
        if is_retrained_card(adapter.card):  # measures and curves; explanations before/after are for texts
            report.retraining = retraining_section(adapter)
        return report
    return text_report(adapter, data=data, n=n, methods=methods, batch_size=batch_size, progress=progress,
                       quality_n=quality_n, compress=compress, cache=cache)


def text_report(adapter: ModelAdapter, *, data: str | None = None, n: int = 50,
                methods: Sequence[str] | None = None, batch_size: int | None = None, progress: bool | None = None,
                quality_n: int = 0, compress: Sequence[str] = (), cache: bool = False) -> ReportData:
    """The report data of a text classifier (kind ``"texts"``); the parameters are :func:`report_data`'s."""
    from .. import __version__

    batch_size = 64 if batch_size is None else check_int(batch_size, "batch_size", owner="build_report", minimum=1)
    card = {"name": adapter.name, **adapter.card}
    if data is None:
        data = card.get("dataset")
        if data is None:
            raise InvalidArgumentError("The 'data' argument is required for a model outside the zoo: a CSV file "
                                       "with 'text' and 'label' columns.")
    labelled = load_labelled_texts(data, adapter.class_names)
    evaluation, probs = evaluate_held_out(adapter, labelled.texts, labelled.labels, labelled.name, batch_size,
                                          cache=cache)
    if adapter.module is not None:
        card["parameters"] = sum(p.numel() for p in adapter.module.parameters())
    card.setdefault("classes", list(adapter.class_names))

    instances, notes = make_methods(adapter, default_methods() if methods is None else methods)
    texts = list(labelled.texts[:n])
    results, summaries = explain_all(instances, texts, progress=progress, cache=cache)
    examples = []
    for i, text in enumerate(texts):
        p = probs[i]
        examples.append(Example(
            index=i, text=text, label=adapter.class_names[labelled.labels[i]],
            predicted=adapter.class_names[int(p.argmax())],
            correct=int(p.argmax()) == int(labelled.labels[i]),
            probabilities=[{"name": c, "p": float(q)} for c, q in zip(adapter.class_names, p)],
            rows=word_rows({name: res[i] for name, res in results.items()}),
        ))
    from ..diagnosis import describe_texts
    from .sections import diagnosis_section

    diagnosis = diagnosis_section(adapter, labelled.texts, np.asarray(labelled.labels), probs, results, instances,
                                  descriptors=describe_texts(list(labelled.texts), probs, adapter.class_names),
                                  described_by="length, frequent words, predicted class and confidence band",
                                  example_rows=word_rows, unit="word", min_count=2)
    from .inside import inside_section

    inside = inside_section(adapter, labelled.texts, np.asarray(labelled.labels), probs, word_rows)
    quality = None
    if check_int(quality_n, "quality_n", owner="build_report", minimum=0):
        from ..metrics import evaluate
        from .quality import quality_section

        quality = quality_section(evaluate(adapter, list(labelled.texts[:quality_n]), methods=instances,
                                           data_name=labelled.name, batch_size=batch_size, progress=progress))
    compression = None
    if compress:
        from .. import zoo
        from .compression import compression_section

        needs_train = any("distill" in spec for spec in compress)
        train = (load_labelled_texts(data, adapter.class_names, split="train")
                 if needs_train and data in zoo.datasets() else None)
        compression = compression_section(adapter, compress, labelled, train, n_explain=min(n, 20),
                                          batch_size=batch_size, progress=progress)
    retraining = None
    if is_retrained_card(adapter.card):
        retraining = retraining_section(adapter, held_out=(labelled.texts, labelled.labels, probs), texts=texts,
                                        batch_size=batch_size)
    return ReportData(
        kind="texts", title=f"lumos report: {card.get('name', adapter.name)}",
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__, card=card_rows(card), evaluation=evaluation, methods=summaries, examples=examples,
        notes=notes, diagnosis=diagnosis, inside=inside, quality=quality, compression=compression,
        retraining=retraining,
    )
