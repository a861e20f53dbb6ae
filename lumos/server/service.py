"""What the server does, without HTTP: the loaded models, explanations of one input by several methods, pages
of a dataset with predictions, generations with the logit lens, two models side by side, and feedback.

Every function returns JSON-ready data (built from the report's section data where the report has it, see
:mod:`lumos.report.common` and :mod:`lumos.report.generation`); :mod:`lumos.server.app` only routes requests here
and runs the model work on its queue.
"""

from __future__ import annotations

import collections
import hashlib
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..attribution import PerturbationMethod, get_method
from ..attribution.registry import preset
from ..errors import InvalidArgumentError, InvalidTypeError, UnknownNameError
from ..explanation import Explanation
from ..models import ModelAdapter, as_adapter
from ..report.common import json_ready
from ..report.data import input_kind

__all__ = ["Limits", "Models", "load_models", "explain_input", "read_upload", "relative_delta"]

#: The preset of method settings for each kind of input a model reads.
_PRESET = {"texts": "text", "tables": "table", "images": "image"}


@dataclass(frozen=True)
class Limits:
    """Request size limits: characters of a text, bytes of an uploaded image or a whole request body, rows of a
    data page, methods per explanation, new tokens of a generation."""

    max_text_chars: int = 2000
    max_image_bytes: int = 5 * 1024 * 1024
    max_body_bytes: int = 8 * 1024 * 1024
    max_rows: int = 100
    max_methods: int = 6
    max_new_tokens: int = 32


def load_models(models: Sequence[Any] | Mapping[str, Any]) -> dict[str, ModelAdapter]:
    """Each model loaded once, by name: zoo names or model directories (through the adapter registry, as the CLI
    does), ``NAME@SPEC`` for a compressed copy of a loaded model (``tweets-sentiment@int8``, see
    :func:`lumos.compression.compress`), or adapters given by name in a mapping."""
    if isinstance(models, Mapping):
        return {str(name): as_adapter(model) for name, model in models.items()}
    loaded: dict[str, ModelAdapter] = {}
    for spec in models:
        if not isinstance(spec, str):
            adapter = as_adapter(spec)
            loaded[adapter.name] = adapter
            continue
        base, at, compression = spec.partition("@")
        if at:
            from ..compression import compress

            original = loaded.get(base) or as_adapter(base)
            loaded[spec] = compress(original, compression)
        else:
            loaded[spec] = as_adapter(spec)
    if not loaded:
        raise InvalidArgumentError("The server needs at least one model ('--model NAME').")
    return loaded


class Models:
    """The loaded models by name, with what each reads and a cache of recent explanations (for feedback)."""

    def __init__(self, adapters: Mapping[str, ModelAdapter], *, keep: int = 512) -> None:
        self.adapters = dict(adapters)
        self._explained: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def get(self, name: str | None) -> ModelAdapter:
        if name is None:
            return next(iter(self.adapters.values()))
        try:
            return self.adapters[name]
        except (KeyError, TypeError):
            raise UnknownNameError(f"The model {name!r} is not loaded by this server. Loaded: "
                                   f"{', '.join(map(repr, self.adapters))}.") from None

    def name_of(self, adapter: ModelAdapter) -> str:
        return next(n for n, a in self.adapters.items() if a is adapter)

    def describe(self) -> list[dict[str, Any]]:
        """Each model: name, what it reads, its classes, its methods (registered ones it can run), its data."""
        out = []
        for name, a in self.adapters.items():
            reads = "generations" if a.task == "causal_lm" else input_kind(a)
            out.append({"name": name, "reads": reads, "task": a.task, "model_id": a.model_id,
                        "classes": list(a.class_names) if a.task != "causal_lm" else [],
                        "features": list(a.feature_names) if reads == "tables" and a.feature_names else [],
                        "methods": runnable_methods(a), "dataset": a.card.get("dataset")})
        return out

    def remember(self, record: dict[str, Any]) -> str:
        """Keep an explanation (with its adapter and input) for feedback on it; its id."""
        e: Explanation = record["explanation"]
        key = hashlib.sha256(f"{e.model_id}|{e.input_id}|{e.method}|{e.target}|{e.params}".encode()).hexdigest()[:16]
        with self._lock:
            self._explained[key] = record
            self._explained.move_to_end(key)
            while len(self._explained) > self._keep:
                self._explained.popitem(last=False)
        return key

    def recall(self, key: str) -> dict[str, Any]:
        with self._lock:
            try:
                return self._explained[key]
            except KeyError:
                raise UnknownNameError(f"No explanation {key!r} on this server (it keeps the last {self._keep}); "
                                       "explain the input again.") from None


def runnable_methods(adapter: ModelAdapter) -> list[str]:
    """The methods of the adapter's preset it can run (gradient methods need a differentiable model)."""
    from ..attribution import GradientMethod

    reads = "generations" if adapter.task == "causal_lm" else input_kind(adapter)
    names = list(preset({"generations": "generation"}.get(reads, _PRESET.get(reads, "text"))))
    return [n for n in names if adapter.differentiable or not issubclass(get_method(n), GradientMethod)]


def make_method(adapter: ModelAdapter, name: str, reads: str, contrast: Any) -> Any:
    """An instance of the method ``name`` with its preset settings for what the model reads (and the contrast)."""
    cls = get_method(name)
    settings = dict(preset(_PRESET.get(reads, "text")).get(cls.name, {}))
    if contrast is None:
        return cls(adapter, **settings)
    try:
        return cls(adapter, **settings, contrast=contrast)
    except TypeError:
        raise InvalidArgumentError(f"The 'contrast' field needs a method that takes one; {cls.name} does not.") from None


def relative_delta(e: Explanation) -> float | None:
    """|convergence delta| over |f(x) - f(baseline)| (the report's measure of an IG explanation's accuracy)."""
    if e.convergence_delta is None or e.output_value is None or e.base_value is None:
        return None
    gap = np.abs(np.asarray(e.output_value) - np.asarray(e.base_value))
    return float(np.mean(np.abs(e.convergence_delta) / np.maximum(gap, 1e-12)))


def _probabilities(adapter: ModelAdapter, p: np.ndarray, k: int | None = None) -> list[dict[str, Any]]:
    order = np.argsort(-p)[:k] if k else range(len(p))
    return [{"name": adapter.class_names[int(i)], "p": float(p[int(i)])} for i in order]


def check_methods(names: Sequence[str], limits: Limits) -> list[str]:
    if not isinstance(names, (list, tuple)) or not names:
        raise InvalidArgumentError("The 'methods' field must be a non-empty list of method names (see GET "
                                   "/api/models for each model's methods).")
    if len(names) > limits.max_methods:
        raise InvalidArgumentError(f"The 'methods' field takes at most {limits.max_methods} methods. Got "
                                   f"{len(names)}.")
    return [get_method(n).name for n in names]  # an unknown name raises UnknownNameError with the known ones


def prepare_input(adapter: ModelAdapter, *, text: str | None = None, row: Mapping[str, Any] | None = None,
                  image: np.ndarray | None = None, limits: Limits = Limits()) -> tuple[Any, str]:
    """The model's example from the request's input, with what the model reads; a clear error for the wrong kind,
    an empty or too long text, or a row with missing or non-numeric columns."""
    reads = input_kind(adapter)
    if adapter.task == "causal_lm":
        raise InvalidArgumentError(f"The model {adapter.name!r} is a generative language model: use /api/generate.")
    given = [k for k, v in (("text", text), ("row", row), ("image", image)) if v is not None]
    wanted = {"texts": "text", "tables": "row", "images": "image"}[reads]
    if given != [wanted]:
        raise InvalidArgumentError(f"The model {adapter.name!r} reads {reads}, so give exactly one '{wanted}'"
                                   f"{' (an uploaded file)' if wanted == 'image' else ''}. Got "
                                   f"{', '.join(map(repr, given)) or 'none'}.")
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgumentError("The 'text' field must be a non-empty string.")
        if len(text) > limits.max_text_chars:
            raise InvalidArgumentError(f"The 'text' field holds at most {limits.max_text_chars} characters. Got "
                                       f"{len(text)}.")
        return text, reads
    if row is not None:
        names = list(adapter.feature_names or ())
        if not isinstance(row, Mapping):
            raise InvalidTypeError(f"The 'row' field must be an object of column -> number ({', '.join(names)}).")
        missing = [n for n in names if n not in row]
        extra = [n for n in row if n not in names]
        if missing or extra:
            raise InvalidArgumentError(f"The 'row' field must give exactly the model's columns. Missing: "
                                       f"{', '.join(missing) or 'none'}; unknown: {', '.join(map(str, extra)) or 'none'}.")
        try:
            values = [float(row[n]) for n in names]
        except (TypeError, ValueError):
            raise InvalidArgumentError("The 'row' field must hold numbers only.") from None
        if not all(np.isfinite(values)):
            raise InvalidArgumentError("The 'row' field must hold finite numbers.")
        return adapter.split_inputs([values])[0][0], reads
    return adapter.split_inputs([image])[0][0], reads


def read_upload(data: bytes, limits: Limits) -> np.ndarray:
    """An uploaded image file's bytes as an (H, W, 3) uint8 array; a clear error for an empty, too large or
    unreadable file."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InvalidArgumentError("The 'image' upload is empty.")
    if len(data) > limits.max_image_bytes:
        raise InvalidArgumentError(f"The 'image' upload holds at most {limits.max_image_bytes} bytes. Got "
                                   f"{len(data)}.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > 40_000_000:
                raise InvalidArgumentError("The 'image' upload has too many pixels (at most 40 million).")
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidArgumentError(f"The 'image' upload is not an image file PIL can read: {exc}") from None


def explain_input(models: Models, adapter: ModelAdapter, example: Any, reads: str, methods: Sequence[str],
                  target: Any = None, contrast: Any = None, image_bytes: bytes | None = None) -> dict[str, Any]:
    """One input explained by each method: the prediction and, per method, the values per piece and per word (or
    an overlay for images), the convergence delta and its relative size, the standard error, the cost."""
    from ..models.vision import overlay, pixel_map, png_base64

    if isinstance(target, str) and target.lstrip("-").isdigit():
        target = int(target)
    instances = [make_method(adapter, name, reads, contrast) for name in methods]
    p = adapter.predict_proba([example])[0]
    out: dict[str, Any] = {"model": models.name_of(adapter), "reads": reads,
                           "prediction": _probabilities(adapter, p, 3 if reads == "images" else None),
                           "predicted": adapter.class_names[int(p.argmax())], "methods": []}
    if reads == "images":
        shown = example if example.shape[-1] == 3 else np.repeat(example[..., :1], 3, axis=-1)
        scale = max(1, 160 // max(adapter.image_size))
        out["image"] = "data:image/png;base64," + png_base64((np.clip(shown, 0, 1) * 255).round().astype(np.uint8),
                                                             scale=scale)
    if reads == "texts":
        out["text"] = example
    for method in instances:
        e = method.attribute(example, target=target)
        record = {"explanation": e, "model": out["model"], "input": example, "image_bytes": image_bytes}
        if reads == "images":
            record["regions"] = image_regions(adapter, method, example)
        if isinstance(example, np.ndarray) and reads == "tables":
            record["row"] = [float(v) for v in np.asarray(example).reshape(-1)]
        entry = {"id": models.remember(record), "method": e.method, "target": e.target_label,
                 "output": e.output, "output_value": e.output_value, "base_value": e.base_value,
                 "delta": e.convergence_delta, "relative_delta": relative_delta(e),
                 "stderr": None if e.stderr is None else np.asarray(e.stderr).reshape(-1).tolist(),
                 "seconds": e.cost.seconds, "n_evals": e.cost.n_evals, "diagnostics": dict(e.diagnostics),
                 "sum": float(np.sum(e.values)), "params": dict(e.params)}
        if reads == "images":
            heat = (method.masker.to_pixels(example, e.values) if isinstance(method, PerturbationMethod)
                    else pixel_map(e))
            entry["overlay"] = "data:image/png;base64," + png_base64(
                overlay(example, heat, signed=bool((heat < 0).any())), scale=scale)
            labels = record["regions"]
            entry["regions"] = {"height": int(labels.shape[0]), "width": int(labels.shape[1]),
                                "n": int(labels.max()) + 1, "labels": labels.reshape(-1).tolist()}
        else:
            values = np.asarray(e.values, dtype=np.float64).reshape(-1)
            entry["pieces"] = {"labels": [str(f) for f in e.features], "values": values.tolist()}
            if reads == "texts":
                words, word_values = e.by_word()
                entry["words"] = {"labels": list(words), "values": np.asarray(word_values).tolist(),
                                  "index": list(e.word_index) if e.word_index is not None else None}
        out["methods"].append(entry)
    return json_ready(out)


def image_regions(adapter: ModelAdapter, method: Any, example: np.ndarray) -> np.ndarray:
    """The regions people mark on an image explanation: (H, W) segment numbers of the image masker's segments
    (the method's own masker for a perturbation method, whose features they are; the model's default masker, as
    occlusion would use, for a pixel method)."""
    masker = method.masker if isinstance(method, PerturbationMethod) else adapter.default_masker()
    prepared = masker.prepare(example)
    return np.asarray(masker.to_pixels(prepared, np.arange(prepared.n_features)), dtype=np.int64)


def region_features(regions: np.ndarray, chosen: Sequence[int], name: str) -> list[int]:
    """The pixels (indices in raster order, the features of a pixel explanation) of the regions ``chosen`` of an
    image (see :func:`image_regions`)."""
    n = int(regions.max()) + 1
    bad = [r for r in chosen if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < n]
    if bad:
        raise InvalidArgumentError(f"The '{name}' field must list regions 0..{n - 1} of the image. Got {bad[:5]}.")
    return np.flatnonzero(np.isin(regions.reshape(-1), list(chosen))).tolist()


def pixel_explanation(e: Explanation, regions: np.ndarray) -> Explanation:
    """An explanation over an image's segments as one over its pixels (each pixel has its segment's value): the
    feedback store keeps image marks on pixels, the positions retraining penalises."""
    from ..explanation import Grid

    def spread(v: Any) -> Any:
        return None if v is None else np.asarray(v, dtype=np.float64)[regions].reshape(-1)

    return e.with_values(features=Grid(*regions.shape), values=spread(e.values), stderr=spread(e.stderr))


def data_page(adapter: ModelAdapter, labelled: Any, probs: Mapping[int, np.ndarray], indices: Sequence[int]
              ) -> list[dict[str, Any]]:
    """Rows of a data page: the input (text, or column -> value), label, prediction, confidence, error flag."""
    rows = []
    for i in indices:
        p = probs[i]
        label = int(labelled.labels[i])
        pred = int(np.argmax(p))
        if labelled.kind == "tables":
            shown: Any = {str(k): json_ready(v) for k, v in labelled.inputs.iloc[i].items()}
        else:
            shown = labelled.inputs[i]
        rows.append({"index": int(i), "input": shown, "label": adapter.class_names[label],
                     "predicted": adapter.class_names[pred], "confidence": float(p[pred]), "error": pred != label})
    return rows


def example_of(adapter: ModelAdapter, labelled: Any, index: int) -> Any:
    """The model's example for row ``index`` of a dataset."""
    if labelled.kind == "tables":
        return adapter.split_inputs(labelled.inputs.iloc[[index]])[0][0]
    return labelled.inputs[index]


def compare_models(models: Models, a: ModelAdapter, b: ModelAdapter, example: Any, reads: str, method: str,
                   target: Any = None) -> dict[str, Any]:
    """One input through two models with one method: both explanations and their drift (Spearman rank agreement
    and top-3 overlap of the word values, change of the predicted probabilities)."""
    from ..metrics import rank_agreement, topk_overlap

    sides = []
    raw = []
    for adapter in (a, b):
        m = make_method(adapter, method, reads, None)
        e = m.attribute(example, target=target)
        raw.append(e)
        p = adapter.predict_proba([example])[0]
        words, values = e.by_word() if reads == "texts" else ([str(f) for f in e.features], np.asarray(e.values))
        sides.append({"model": models.name_of(adapter), "predicted": adapter.class_names[int(p.argmax())],
                      "prediction": _probabilities(adapter, p), "target": e.target_label,
                      "words": {"labels": list(words), "values": np.asarray(values).reshape(-1).tolist()},
                      "seconds": e.cost.seconds, "delta": e.convergence_delta, "relative_delta": relative_delta(e)})
    pa = np.array([d["p"] for d in sides[0]["prediction"]])
    pb = np.array([d["p"] for d in sides[1]["prediction"]])
    drift = {"rank_agreement": float(np.asarray(rank_agreement([raw[0]], [raw[1]])).reshape(-1)[0]),
             "top3_overlap": float(np.asarray(topk_overlap([raw[0]], [raw[1]], k=3)).reshape(-1)[0]),
             "max_probability_change": float(np.abs(pa - pb).max()) if pa.shape == pb.shape else None,
             "same_prediction": sides[0]["predicted"] == sides[1]["predicted"]}
    return json_ready({"method": get_method(method).name, "sides": sides, "drift": drift})


def generate_view(adapter: ModelAdapter, prompt: str, methods: Sequence[str], max_new_tokens: int) -> dict[str, Any]:
    """A prompt's continuation with every generated token attributed to its sources by each method (the report's
    :func:`~lumos.report.generation.sequence_view`) and the logit lens of the prompt."""
    from ..attribution.registry import make_methods
    from ..report.generation import lens_data, sequence_view

    if adapter.task != "causal_lm":
        raise InvalidArgumentError(f"The model {adapter.name!r} is a classifier: /api/generate needs a generative "
                                   "language model such as 'smollm2-135m'.")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidArgumentError("The 'prompt' field must be a non-empty string.")
    instances, notes = make_methods(adapter, list(methods), "generation")
    generation = adapter.generate(prompt, max_new_tokens=max_new_tokens)
    views = [sequence_view(m.attribute(generation), generation).to_dict() for m in instances.values()]
    return json_ready({"prompt": generation.prompt, "continuation": generation.continuation,
                       "probabilities": np.exp(generation.log_probs).tolist(), "views": views,
                       "lens": lens_data(adapter, generation.prompt), "notes": notes})


def record_feedback(store: Any, models: Models, explanation_id: str, *, irrelevant: Sequence[int] = (),
                    relevant: Sequence[int] = (), label: str | None = None, rating: int | None = None,
                    comment: str | None = None, author: str | None = None, uploads: Path | None = None,
                    irrelevant_regions: Sequence[int] = (), relevant_regions: Sequence[int] = ()
                    ) -> dict[str, Any]:
    """Store feedback on a remembered explanation (marks index its pieces; on an image, marked regions stand for
    their pixels, and an explanation over segments is stored as its pixel map, see :func:`pixel_explanation`);
    the stored record as JSON."""
    from ..explanation import Grid
    from ..feedback import Feedback

    record = models.recall(explanation_id)
    e: Explanation = record["explanation"]
    adapter = models.get(record["model"])
    regions = record.get("regions")
    if (irrelevant_regions or relevant_regions) and regions is None:
        raise InvalidArgumentError("The 'irrelevant_regions' and 'relevant_regions' fields mark regions of an image "
                                   "explanation; this explanation is not of an image (use 'irrelevant' / 'relevant').")
    if regions is not None:
        if not isinstance(e.features, Grid):  # over the segments: its feature indices are the regions
            irrelevant_regions, relevant_regions = [*irrelevant, *irrelevant_regions], [*relevant, *relevant_regions]
            irrelevant, relevant = (), ()
            e = pixel_explanation(e, regions)
        elif e.features.shape != regions.shape:
            raise InvalidArgumentError(f"The explanation's pixels {e.features.shape} differ from the image's regions "
                                       f"{regions.shape}: mark its pixels with 'irrelevant' / 'relevant'.")
        irrelevant = sorted({*irrelevant, *region_features(regions, irrelevant_regions, "irrelevant_regions")})
        relevant = sorted({*relevant, *region_features(regions, relevant_regions, "relevant_regions")})
    image_path = None
    if record.get("image_bytes") is not None:
        if uploads is None:
            raise InvalidArgumentError("Feedback on an image needs a place for its file: start the server with --store.")
        digest = hashlib.sha256(record["image_bytes"]).hexdigest()
        uploads.mkdir(parents=True, exist_ok=True)
        image_path = uploads / f"{digest[:32]}.img"
        if not image_path.exists():
            tmp = image_path.with_suffix(".tmp")
            tmp.write_bytes(record["image_bytes"])
            tmp.replace(image_path)
    for name, given in (("irrelevant", irrelevant), ("relevant", relevant)):
        bad = [i for i in given if not isinstance(i, int) or not 0 <= i < len(e.features)]
        if bad:
            raise InvalidArgumentError(f"The '{name}' field must list feature indices 0..{len(e.features) - 1}. "
                                       f"Got {bad[:5]}.")
    fb = Feedback.from_explanation(e, irrelevant=irrelevant, relevant=relevant, label=label, rating=rating,
                                   comment=comment, author=author, image_path=image_path, row=record.get("row"))
    store.register(adapter)
    fid = store.add(fb)
    saved = store.get(fid).to_dict()
    saved.pop("values", None)
    return json_ready(saved)
