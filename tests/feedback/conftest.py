"""Fixtures of the feedback tests: a fresh store with one registered model, and records to add to it."""

from __future__ import annotations

import pytest

from lumos.feedback import Feedback, FeedbackStore

MODEL_ID = "sha256:00000000000000aa"
CLASSES = ("negative", "neutral", "positive")


@pytest.fixture()
def store(tmp_path):
    """An empty store in a temporary directory, with one model (three classes) registered."""
    s = FeedbackStore(tmp_path / "feedback.sqlite")
    s.register_model(MODEL_ID, name="tiny", class_names=CLASSES)
    yield s
    s.close()


def _text_feedback(i: int = 0, **fields) -> Feedback:
    """A valid text record: five word pieces, the first marked irrelevant, the label corrected."""
    base = dict(model_id=MODEL_ID, input_id=f"sha256:{i:016x}", kind="text", text=f"@united late again {i}",
                method="saliency", params={"abs": True}, features=("@", "united", "late", "again", str(i)),
                values=[0.5, 0.25, 0.125, 0.0625, float(i)], marks={0: "irrelevant", 2: "relevant"},
                label="negative", rating=4, comment="the handle should not matter", author="ann")
    base.update(fields)
    return Feedback(**base)


@pytest.fixture()
def text_feedback():
    """A factory of valid text records: ``text_feedback(i, **fields)``."""
    return _text_feedback
