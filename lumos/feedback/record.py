"""One piece of feedback: what a person said about one explanation of one input to one model."""

from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import json
import math
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import InvalidArgumentError, InvalidTypeError, check_choice
from ..explanation import Grid

__all__ = ["Feedback", "MARKS", "KINDS", "RATINGS"]

#: What a mark says about a feature of an explanation.
MARKS = ("irrelevant", "relevant")
#: What an input can be.
KINDS = ("text", "image", "table")
#: Ratings of an explanation: 1 (useless) to 5 (exactly right).
RATINGS = (1, 5)

_OWNER = "Feedback"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def _default_author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


@dataclass(frozen=True)
class Feedback:
    """What a person said about one explanation: feature marks, a label correction, a rating, a comment.

    Build one with :meth:`from_explanation` (the usual way) or field by field; a
    :class:`~lumos.feedback.FeedbackStore` validates it against the model it names before writing it.

    Parameters
    ----------
    model_id : str
        The model's :attr:`~lumos.models.ModelAdapter.model_id` (a weights hash); must be registered in the store.
    input_id : str
        The input's :meth:`~lumos.models.ModelAdapter.input_id` (a content hash).
    kind : {"text", "image", "table"}
    text : str, optional
        The input text (``kind="text"``).
    image_path, image_sha256 : str, optional
        Where the image file lies and the SHA-256 of its bytes (``kind="image"``: at least one of them).
    row : tuple of float, optional
        The table row (``kind="table"``), in the order of ``features``.
    method : str, optional
        The attribution method of the explanation the feedback refers to, with its ``params`` and ``values``
        (one per feature).
    features : tuple of str or Grid
        The explanation's features (word pieces, ``Grid(h, w)`` pixels, columns); marks index them.
    marks : mapping of int to {"irrelevant", "relevant"}
        Feature index -> mark. Irrelevant features are the ones the model should not use (the
        right-for-the-right-reasons penalty and the counterexamples act on them).
    label : str, optional
        The correct class, when the person corrects the label.
    rating : int in [1, 5], optional
        How good the explanation is.
    comment, author : str
        Free text; the author defaults to the login name.
    uid : str
        A unique id (a UUID4 hex) that keeps imports idempotent; made for you.
    created_at : str
        ISO 8601 UTC time; now by default.
    id : int or None
        The store's row id, set when read back from a store.
    """

    model_id: str
    input_id: str
    kind: str
    text: str | None = None
    image_path: str | None = None
    image_sha256: str | None = None
    row: tuple[float, ...] | None = None
    method: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] | Grid = ()
    values: np.ndarray | None = None
    marks: Mapping[int, str] = field(default_factory=dict)
    label: str | None = None
    rating: int | None = None
    comment: str | None = None
    author: str = field(default_factory=_default_author)
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: str = field(default_factory=_now)
    id: int | None = None

    # -- derived -----------------------------------------------------------------------------------------
    @property
    def irrelevant(self) -> tuple[int, ...]:
        """Indices of the features marked irrelevant, ascending."""
        return tuple(sorted(i for i, m in self.marks.items() if m == "irrelevant"))

    @property
    def relevant(self) -> tuple[int, ...]:
        """Indices of the features marked relevant, ascending."""
        return tuple(sorted(i for i, m in self.marks.items() if m == "relevant"))

    @property
    def n_features(self) -> int:
        return len(self.features)

    # -- building ----------------------------------------------------------------------------------------
    @classmethod
    def from_explanation(cls, explanation: Any, *, irrelevant: Iterable[int] = (), relevant: Iterable[int] = (),
                         label: str | None = None, rating: int | None = None, comment: str | None = None,
                         author: str | None = None, image_path: str | Path | None = None,
                         row: Sequence[float] | None = None) -> "Feedback":
        """Feedback on an :class:`~lumos.Explanation` (which carries the model id, input id, method and values).

        The input's kind follows the explanation: a text explanation records its text; a pixel explanation
        (``Grid`` features) is an image, recorded by ``image_path`` (its bytes are hashed); any other is a table
        row, given as ``row``.

        Examples
        --------
        >>> e = lumos.Saliency(model).attribute("the flight was late again")     # doctest: +SKIP
        >>> fb = Feedback.from_explanation(e, irrelevant=[0], rating=2)          # doctest: +SKIP
        """
        if explanation.model_id is None or explanation.input_id is None:
            raise InvalidArgumentError("The 'explanation' given to Feedback.from_explanation must carry a model_id "
                                       "and an input_id (every lumos method on a torch model sets both).")
        if explanation.axes not in (None, ("features",)):
            raise InvalidArgumentError("The 'explanation' given to Feedback.from_explanation must explain one "
                                       f"target (axes ('features',)). Got axes {explanation.axes}.")
        marks = _marks(irrelevant, relevant)
        image_sha256 = None
        if isinstance(explanation.features, Grid):
            kind = "image"
            if image_path is not None:
                image_path = str(Path(image_path).expanduser().resolve())
                image_sha256 = file_sha256(image_path)
        elif explanation.text is not None:
            kind = "text"
        else:
            kind = "table"
        return cls(model_id=explanation.model_id, input_id=explanation.input_id, kind=kind,
                   text=explanation.text if kind == "text" else None,
                   image_path=str(image_path) if image_path is not None else None, image_sha256=image_sha256,
                   row=tuple(float(v) for v in row) if row is not None else None,
                   method=explanation.method, params=dict(explanation.params), features=explanation.features,
                   values=np.asarray(explanation.values, dtype=np.float64).reshape(-1), marks=marks, label=label,
                   rating=rating, comment=comment, author=author if author is not None else _default_author())

    def with_id(self, id: int) -> "Feedback":
        return replace(self, id=id)

    # -- validation --------------------------------------------------------------------------------------
    def validate(self, class_names: Sequence[str] | None = None) -> "Feedback":
        """This record, if every field is acceptable (against the model's ``class_names`` when given);
        otherwise an :class:`~lumos.errors.InvalidArgumentError` naming the field and what is accepted."""
        for name in ("model_id", "input_id", "author", "uid", "created_at"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgumentError(f"The {name!r} field of {_OWNER} must be a non-empty str. Got {value!r}.")
        check_choice(self.kind, "kind", KINDS, owner=_OWNER)
        if self.kind == "text" and (not isinstance(self.text, str) or not self.text.strip()):
            raise InvalidArgumentError(f"The 'text' field of {_OWNER} must hold the input text when kind is "
                                       f"'text'. Got {self.text!r}.")
        if self.kind == "image" and not (self.image_path or self.image_sha256):
            raise InvalidArgumentError(f"The 'image_path' or 'image_sha256' field of {_OWNER} must identify the "
                                       "image when kind is 'image'. Got neither.")
        if self.kind == "table":
            if self.row is None or not all(isinstance(v, float) and math.isfinite(v) for v in self.row):
                raise InvalidArgumentError(f"The 'row' field of {_OWNER} must hold the table row (finite numbers) "
                                           f"when kind is 'table'. Got {self.row!r}.")
            if self.features and len(self.row) != len(self.features):
                raise InvalidArgumentError(f"The 'row' field of {_OWNER} must have one value per feature "
                                           f"({len(self.features)}). Got {len(self.row)}.")
        if not isinstance(self.features, (tuple, Grid)):
            raise InvalidTypeError(f"The 'features' field of {_OWNER} must be a tuple of str or a Grid. "
                                   f"Got {type(self.features).__name__}.")
        if self.values is not None and len(self.values) != len(self.features):
            raise InvalidArgumentError(f"The 'values' field of {_OWNER} must have one value per feature "
                                       f"({len(self.features)}). Got {len(self.values)}.")
        n = len(self.features)
        bad = sorted(i for i in self.marks if isinstance(i, bool) or not isinstance(i, (int, np.integer))
                     or not 0 <= i < n)
        if bad:
            where = f"in [0, {n - 1}]" if n else "of a recorded explanation (this one lists no features)"
            raise InvalidArgumentError(f"The 'marks' of {_OWNER} must be feature indices {where}. Got {bad}.")
        wrong = sorted({m for m in self.marks.values() if m not in MARKS})
        if wrong:
            raise InvalidArgumentError(f"The 'marks' of {_OWNER} must be 'irrelevant' or 'relevant'. Got {wrong}.")
        if self.label is not None:
            if not isinstance(self.label, str):
                raise InvalidTypeError(f"The 'label' field of {_OWNER} must be a class name (str). "
                                       f"Got {type(self.label).__name__}.")
            if class_names is not None:
                check_choice(self.label, "label", class_names, owner=_OWNER)
        if self.rating is not None and (isinstance(self.rating, bool) or not isinstance(self.rating, int)
                                        or not RATINGS[0] <= self.rating <= RATINGS[1]):
            raise InvalidArgumentError(f"The 'rating' field of {_OWNER} must be an int in [{RATINGS[0]}, "
                                       f"{RATINGS[1]}]. Got {self.rating!r}.")
        if not self.marks and self.label is None and self.rating is None and not (self.comment or "").strip():
            raise InvalidArgumentError(f"The selection of {_OWNER} is empty: mark at least one feature (irrelevant "
                                       "or relevant), correct the label, rate the explanation or comment on it.")
        return self

    # -- plain data --------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the JSONL export's line, without the model's name and classes)."""
        features: Any = ({"grid": list(self.features.shape)} if isinstance(self.features, Grid)
                         else list(self.features))
        return {"uid": self.uid, "id": self.id, "model_id": self.model_id, "input_id": self.input_id,
                "kind": self.kind, "text": self.text, "image_path": self.image_path,
                "image_sha256": self.image_sha256, "row": list(self.row) if self.row is not None else None,
                "method": self.method, "params": dict(self.params), "features": features,
                "values": [float(v) for v in self.values] if self.values is not None else None,
                "irrelevant": list(self.irrelevant), "relevant": list(self.relevant), "label": self.label,
                "rating": self.rating, "comment": self.comment, "author": self.author,
                "created_at": self.created_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Feedback":
        """The inverse of :meth:`to_dict` (unknown keys are ignored)."""
        try:
            features = data.get("features") or ()
            if isinstance(features, Mapping):
                features = Grid(*features["grid"])
            else:
                features = tuple(str(f) for f in features)
            values = data.get("values")
            row = data.get("row")
            params = data.get("params") or {}
            if isinstance(params, str):
                params = json.loads(params)
            rating = data.get("rating")
            return cls(model_id=data["model_id"], input_id=data["input_id"], kind=data["kind"],
                       text=data.get("text"), image_path=data.get("image_path"),
                       image_sha256=data.get("image_sha256"),
                       row=tuple(float(v) for v in row) if row is not None else None, method=data.get("method"),
                       params=params, features=features,
                       values=np.asarray(values, dtype=np.float64) if values is not None else None,
                       marks=_marks(data.get("irrelevant") or (), data.get("relevant") or ()),
                       label=data.get("label"), rating=int(rating) if rating is not None else None,
                       comment=data.get("comment"), author=data.get("author") or "unknown",
                       uid=data.get("uid") or uuid.uuid4().hex, created_at=data.get("created_at") or _now(),
                       id=data.get("id"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"A feedback record could not be read: {type(exc).__name__}: {exc}. It needs "
                                       "at least 'model_id', 'input_id' and 'kind'.") from None


def _marks(irrelevant: Iterable[int], relevant: Iterable[int]) -> dict[int, str]:
    irrelevant, relevant = list(irrelevant), list(relevant)
    both = sorted(set(map(_index, irrelevant)) & set(map(_index, relevant)))
    if both:
        raise InvalidArgumentError(f"The 'irrelevant' and 'relevant' marks of {_OWNER} must not share features. "
                                   f"Both mark {both}.")
    return {**{_index(i): "irrelevant" for i in irrelevant}, **{_index(i): "relevant" for i in relevant}}


def _index(value: Any) -> Any:
    """An int feature index as an int (numpy ints included); anything else unchanged, for validation to name."""
    return int(value) if isinstance(value, np.integer) else value


def file_sha256(path: str | Path) -> str:
    """The full SHA-256 (hex) of a file's bytes."""
    p = Path(path)
    if not p.is_file():
        raise InvalidArgumentError(f"The 'image_path' {str(path)!r} does not exist or is not a file.")
    digest = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
