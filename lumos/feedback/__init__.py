"""Feedback that fixes the model: a durable store of people's marks on explanations, label corrections and
ratings (:class:`FeedbackStore`), and retraining from it (:func:`retrain`: right for the right reasons and
counterexamples), with simulated annotators for benchmarks and tests.

>>> from lumos.feedback import Feedback, FeedbackStore, annotated_from_store, retrain    # doctest: +SKIP
>>> store = FeedbackStore()                       # feedback.sqlite in the user data directory
>>> store.register(model)
>>> store.add(Feedback.from_explanation(lumos.Saliency(model).attribute(text), irrelevant=[0]))
>>> result = retrain(model, annotated_from_store(store, model, texts, labels), method="rrr")
>>> result.save("model-v2"); lumos.load_model("model-v2")
"""

from .record import KINDS, MARKS, Feedback
from .retrain import (METHODS, Annotated, Retrained, annotated_from_store, load_retrained, measure, retrain,
                      rrr_penalty, trainable_parameters)
from .simulate import simulate_annotator
from .store import SCHEMA_VERSION, FeedbackStats, FeedbackStore, default_store_path

__all__ = ["Feedback", "FeedbackStore", "FeedbackStats", "default_store_path", "SCHEMA_VERSION", "MARKS", "KINDS",
           "Annotated", "Retrained", "retrain", "rrr_penalty", "measure", "trainable_parameters",
           "annotated_from_store", "load_retrained", "simulate_annotator", "METHODS"]
