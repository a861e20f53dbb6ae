"""Feedback that fixes the model: a durable store of people's marks on explanations, label corrections and
ratings (:class:`FeedbackStore`), and retraining from it.

>>> from lumos.feedback import Feedback, FeedbackStore                           # doctest: +SKIP
>>> store = FeedbackStore()                       # feedback.sqlite in the user data directory
>>> store.register(model)
>>> store.add(Feedback.from_explanation(lumos.Saliency(model).attribute(text), irrelevant=[0]))
"""

from .record import KINDS, MARKS, Feedback
from .store import SCHEMA_VERSION, FeedbackStats, FeedbackStore, default_store_path

__all__ = ["Feedback", "FeedbackStore", "FeedbackStats", "default_store_path", "SCHEMA_VERSION", "MARKS", "KINDS"]
