"""``lumos feedback add|list|export|import|stats``: people's marks on explanations, label corrections and ratings,
in the SQLite feedback store (:class:`lumos.feedback.FeedbackStore`)."""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import InvalidArgumentError
from ._common import DEFAULT_MODEL, FORMATS, INT, MODEL_HELP, count, emit_rows, friendly_errors

STORE_HELP = ("The feedback store (a SQLite file). [default: $LUMOS_FEEDBACK_STORE, else feedback.sqlite in the user "
              "data directory]")
store_option = click.option("--store", "store_path", default=None, metavar="PATH", help=STORE_HELP)


def open_store(path: str | None) -> Any:
    from ..feedback import FeedbackStore

    return FeedbackStore(path)


@click.group()
def feedback() -> None:
    """Record and manage feedback on explanations (marks, label corrections, ratings)."""


@feedback.command("add")
@click.argument("text", required=False)
@click.option("--image", default=None, metavar="PATH", help="Give feedback on an image file instead of TEXT.")
@click.option("--row", default=None, metavar="V1,V2,...",
              help="Give feedback on a table row instead of TEXT: its values, comma-separated, in the model's column "
                   "order.")
@click.option("--model", "-m", default=DEFAULT_MODEL, show_default=True, help=MODEL_HELP)
@click.option("--method", default="saliency", show_default=True,
              help="Attribution method of the explanation the feedback refers to (see `lumos methods`).")
@click.option("--irrelevant", multiple=True, metavar="FEATURES",
              help="Features the model should not use: indices or feature labels (word pieces, column names), "
                   "comma-separated; repeatable.")
@click.option("--relevant", multiple=True, metavar="FEATURES", help="Features the model is right to use (as above).")
@click.option("--region", multiple=True, metavar="R0:R1,C0:C1",
              help="Images: mark the pixels of rows R0..R1-1 and columns C0..C1-1 irrelevant; repeatable.")
@click.option("--label", default=None, help="The correct class (a label correction).")
@click.option("--rating", default=None, type=INT, help="How good the explanation is, 1 (useless) to 5 (right).")
@click.option("--comment", default=None, help="Free text.")
@click.option("--author", default=None, help="Who gives the feedback. [default: the login name]")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the stored record as JSON.")
@friendly_errors
def add(text: str | None, image: str | None, row: str | None, model: str, method: str, irrelevant: tuple[str, ...],
        relevant: tuple[str, ...], region: tuple[str, ...], label: str | None, rating: int | None,
        comment: str | None, author: str | None, store_path: str | None, as_json: bool) -> None:
    """Explain one input and record feedback on that explanation: features marked irrelevant or relevant, a label
    correction, a rating, a comment. Run it without marks to see the features and their indices."""
    from ..attribution import get_method
    from ..feedback import Feedback
    from ..models import as_adapter

    given = [name for name, value in (("TEXT", text), ("--image", image), ("--row", row)) if value is not None]
    if len(given) != 1:
        raise InvalidArgumentError(f"`lumos feedback add` needs exactly one input: TEXT, --image PATH or --row "
                                   f"V1,V2,... Got {', '.join(given) or 'none'}.")
    adapter = as_adapter(model)
    reads = {"text": "TEXT", "image": "--image", "table": "--row", "tensor": "--row"}.get(adapter.modality)
    if reads is not None and reads != given[0]:
        raise InvalidArgumentError(f"The model {model!r} reads {adapter.modality} inputs, so `lumos feedback add` "
                                   f"needs {reads}{' PATH' if reads == '--image' else ''}. Got {given[0]}.")
    values = None
    if row is not None:
        try:
            values = [float(v) for v in row.split(",")]
        except ValueError:
            raise InvalidArgumentError(f"The '--row' option must be numbers separated by commas. Got {row!r}.") from None
    raw: Any = text if text is not None else (image if image is not None else values)
    (example,), _ = adapter.split_inputs([raw])
    explanation = get_method(method)(adapter).attribute(example)
    features = explanation.features
    marks_irrelevant = _features(irrelevant, features, "--irrelevant") + _regions(region, features)
    marks_relevant = _features(relevant, features, "--relevant")
    if not (marks_irrelevant or marks_relevant or label or rating is not None or comment):
        _show_features(explanation)
        raise InvalidArgumentError("Nothing to record: give --irrelevant, --relevant, --region, --label, --rating or "
                                   "--comment (the features and their indices are listed above).")
    record = Feedback.from_explanation(explanation, irrelevant=marks_irrelevant, relevant=marks_relevant,
                                       label=label, rating=rating, comment=comment, author=author, image_path=image,
                                       row=values)
    store = open_store(store_path)
    store.register(adapter)
    fid = store.add(record)
    if as_json:
        click.echo(json.dumps(store.get(fid).to_dict(), indent=2))
        return
    named = ", ".join(str(features[i]) for i in sorted(marks_irrelevant)[:10])
    click.echo(f"feedback {fid} recorded in {store.path}: {len(marks_irrelevant)} irrelevant"
               + (f" ({named}{', ...' if len(marks_irrelevant) > 10 else ''})" if named else "")
               + f", {len(marks_relevant)} relevant" + (f", label {label}" if label else "")
               + (f", rating {rating}" if rating is not None else "")
               + f"; model {adapter.name} ({adapter.model_id}), explained by {explanation.method}")


def _features(items: tuple[str, ...], features: Any, option: str) -> list[int]:
    """Feature indices from indices or labels (a label marks every feature that carries it)."""
    labels = list(features)
    chosen: list[int] = []
    for item in (part.strip() for given in items for part in given.split(",")):
        if not item:
            continue
        if item.lstrip("-").isdigit():
            chosen.append(int(item))
            continue
        hits = [i for i, f in enumerate(labels) if f == item]
        if not hits:
            shown = ", ".join(map(repr, labels[:20])) + (", ..." if len(labels) > 20 else "")
            raise InvalidArgumentError(f"The '{option}' option names {item!r}, which is not a feature of this "
                                       f"explanation. Features: {shown}; or give indices 0..{len(labels) - 1}.")
        chosen.extend(hits)
    return sorted(set(chosen))


def _regions(regions: tuple[str, ...], features: Any) -> list[int]:
    from ..explanation import Grid

    if not regions:
        return []
    if not isinstance(features, Grid):
        raise InvalidArgumentError("The '--region' option marks pixels, so it needs an image model; use "
                                   "--irrelevant for texts and tables.")
    chosen = []
    for region in regions:
        try:
            rows, cols = region.split(",")
            r0, r1 = (int(v) for v in rows.split(":"))
            c0, c1 = (int(v) for v in cols.split(":"))
        except ValueError:
            raise InvalidArgumentError(f"The '--region' option must read R0:R1,C0:C1 (rows R0..R1-1, columns "
                                       f"C0..C1-1). Got {region!r}.") from None
        if not (0 <= r0 < r1 <= features.height and 0 <= c0 < c1 <= features.width):
            raise InvalidArgumentError(f"The '--region' {region!r} must lie inside the {features.height} x "
                                       f"{features.width} image, with R0 < R1 and C0 < C1.")
        chosen.extend(r * features.width + c for r in range(r0, r1) for c in range(c0, c1))
    return sorted(set(chosen))


def _show_features(explanation: Any) -> None:
    from ..explanation import Grid

    if isinstance(explanation.features, Grid):
        click.echo(f"features: the {explanation.features.height} x {explanation.features.width} pixels (mark them "
                   "with --region R0:R1,C0:C1)", err=True)
        return
    for i, (label, value) in enumerate(zip(explanation.features, explanation.values)):
        click.echo(f"{i:>4}  {label:<24} {float(value):+.4f}", err=True)


@feedback.command("list")
@click.option("--model", "-m", default=None, help="Only feedback on this model: a registered name or a model id.")
@click.option("--author", default=None, help="Only feedback by this author.")
@click.option("--limit", default=50, show_default=True, type=count(1), help="At most this many records (the oldest first).")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON lines.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="table: aligned columns; json: one JSON array of the full records; csv: a header line, then one "
                   "line per record. Default: one compact line per record.")
@friendly_errors
def list_(model: str | None, author: str | None, limit: int, store_path: str | None, as_json: bool,
          fmt: str | None) -> None:
    """List the records in the store."""
    store = open_store(store_path)
    models = store.models()
    records = store.list(model_id=_model_id(model, models), author=author, limit=limit)
    if fmt is not None and not as_json:
        rows = [{"id": r.id, "created_at": r.created_at, "author": r.author, "model": models[r.model_id]["name"],
                 "kind": r.kind, "input": r.text if r.kind == "text" else (r.image_path or r.image_sha256
                                                                          if r.kind == "image" else "row"),
                 "irrelevant": " ".join(str(r.features[i]) for i in r.irrelevant),
                 "relevant": " ".join(str(r.features[i]) for i in r.relevant), "label": r.label, "rating": r.rating}
                for r in records]
        return emit_rows(rows, fmt, title=f"feedback in {store.path}", payload=[r.to_dict() for r in records],
                         columns=["id", "created_at", "author", "model", "kind", "input", "irrelevant", "relevant",
                                  "label", "rating"])
    for r in records:
        if as_json:
            click.echo(json.dumps(r.to_dict()))
            continue
        what = r.text if r.kind == "text" else (r.image_path or r.image_sha256 if r.kind == "image" else
                                                 f"row of {len(r.row or ())}")
        marked = ", ".join(str(r.features[i]) for i in r.irrelevant[:6]) + (", ..." if len(r.irrelevant) > 6 else "")
        parts = [f"{r.id:>5}", r.created_at[:19], r.author, models[r.model_id]["name"], r.kind, repr(str(what)[:40])]
        parts.append(f"irrelevant [{marked}]" if r.irrelevant else "")
        parts.append(f"relevant {len(r.relevant)}" if r.relevant else "")
        parts.append(f"label {r.label}" if r.label else "")
        parts.append(f"rating {r.rating}" if r.rating is not None else "")
        click.echo("  ".join(p for p in parts if p))
    if not records and not as_json:
        click.echo(f"no feedback in {store.path}" + (" matching the filters" if model or author else ""), err=True)


def _model_id(model: str | None, models: dict[str, dict]) -> str | None:
    """A model id from an id or a registered model's name."""
    if model is None or model in models:
        return model
    named = [mid for mid, info in models.items() if info["name"] == model]
    if not named:
        known = ", ".join(sorted({info["name"] for info in models.values()})) or "none"
        raise InvalidArgumentError(f"The '--model' option must be a registered model's name or id. Registered: "
                                   f"{known}. Got {model!r}.")
    if len(named) > 1:
        raise InvalidArgumentError(f"The '--model' name {model!r} is registered with {len(named)} model ids (several "
                                   f"versions): give one of {', '.join(named)}.")
    return named[0]


@feedback.command("export")
@click.argument("out")
@click.option("--model", "-m", default=None, help="Only feedback on this model: a registered name or a model id.")
@click.option("--format", "format_", default=None, type=click.Choice(["jsonl", "parquet"]),
              help="File format. [default: from OUT's suffix, .jsonl or .parquet]")
@store_option
@friendly_errors
def export(out: str, model: str | None, format_: str | None, store_path: str | None) -> None:
    """Write the records to OUT (JSONL, or Parquet with pyarrow)."""
    from ..errors import check_output_path

    check_output_path(out, "OUT", suffixes=() if format_ else (".jsonl", ".json", ".ndjson", ".parquet"))
    store = open_store(store_path)
    n = store.export(out, format=format_, model_id=_model_id(model, store.models()))
    click.echo(f"{n} records written to {out}")


@feedback.command("import")
@click.argument("path")
@click.option("--format", "format_", default=None, type=click.Choice(["jsonl", "parquet"]),
              help="File format. [default: from PATH's suffix]")
@store_option
@friendly_errors
def import_(path: str, format_: str | None, store_path: str | None) -> None:
    """Add the records of a file written by `lumos feedback export` (records already in the store are skipped)."""
    store = open_store(store_path)
    before = len(store)
    ids = store.import_file(path, format=format_)
    click.echo(f"{len(store) - before} records added to {store.path} ({len(ids) - (len(store) - before)} were there "
               "already)")


@feedback.command("stats")
@click.option("--model", "-m", default=None, help="Only feedback on this model: a registered name or a model id.")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@friendly_errors
def stats(model: str | None, store_path: str | None, as_json: bool) -> None:
    """Counts: records, marks, label corrections, ratings, per author and per model."""
    store = open_store(store_path)
    models = store.models()
    s = store.stats(model_id=_model_id(model, models))
    if as_json:
        click.echo(json.dumps({"store": str(store.path), "schema_version": store.schema_version, **s.to_dict()},
                              indent=2))
        return
    click.echo(f"{store.path} (schema {store.schema_version}): {s.records} records on {s.models} models")
    click.echo(f"  marks: {s.irrelevant_marks} irrelevant, {s.relevant_marks} relevant; label corrections "
               f"{s.label_corrections}; ratings {s.ratings}"
               + (f" (mean {s.mean_rating:.2f})" if s.mean_rating is not None else ""))
    for mid, n in s.by_model.items():
        click.echo(f"  model {models[mid]['name']} ({mid}): {n}")
    for who, n in s.authors.items():
        click.echo(f"  author {who}: {n}")
