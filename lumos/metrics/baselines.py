"""Reference "attributions" that do not look at the model: the floor every method should beat, and the
control a sanity check must flag."""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from ..attribution.base import Method, resolve_targets
from ..engine import Batcher
from ..errors import InvalidTypeError, check_int
from ..explanation import Cost, Explanation, ExplanationSet
from ..models import as_adapter
from ..readout import softmax
from ._common import example_rng

__all__ = ["ModelIndependent", "RandomAttribution"]


class ModelIndependent(Method):
    """An "attribution" computed from the features alone, ``fn(labels) -> values``.

    The model is asked only for its prediction (to pick the default target). Useful as a control: a
    model-randomization sanity check must flag it, since its values cannot change with the model.

    Parameters
    ----------
    model : model, adapter or zoo name
    fn : callable (tuple of str, example) -> array of shape (n_features,)
        E.g. ``lambda labels, example: [len(w) for w in labels]`` (word length).
    name : str, default "model_independent"
    masker : Masker, optional
        Splits inputs into features; default: the adapter's.
    executor : Batcher, optional
        Runs the model for the predictions; default a new :class:`~lumos.engine.Batcher`.
    """

    name = "model_independent"

    def __init__(self, model: Any, fn: Callable[[tuple[str, ...], Any], Sequence[float]], *,
                 name: str = "model_independent", masker: Any = None, executor: Batcher | None = None) -> None:
        if not callable(fn):
            raise InvalidTypeError(f"The 'fn' parameter of ModelIndependent must be callable. Got {type(fn).__name__}.")
        self.adapter = as_adapter(model)
        self.masker = masker if masker is not None else self.adapter.default_masker()
        self.fn, self.name = fn, name
        self.executor = executor if executor is not None else Batcher(self.adapter)

    def with_adapter(self, adapter: Any) -> "ModelIndependent":
        clone = super().with_adapter(adapter)
        clone.executor = self.executor.for_adapter(adapter)
        return clone

    def attribute(self, inputs: Any, target: Any = None) -> Explanation | ExplanationSet:
        t0 = time.perf_counter()
        examples, single = self.adapter.split_inputs(inputs)
        if self.adapter.task == "causal_lm":
            out = [self._continuation(g, time.perf_counter() - t0) for g in examples]
            return out[0] if single else ExplanationSet(out)
        targets = resolve_targets(self.adapter, target, len(examples), type(self).__name__)
        raw = self.executor.run(examples, description=self.name)
        regressor = self.adapter.task == "regressor"  # its prediction is the outputs; default target the first
        probs = raw if self.adapter.output_kind != "logits" else softmax(raw)
        seconds = (time.perf_counter() - t0) / len(examples)
        out = []
        for example, t, p in zip(examples, targets, probs):
            t = 0 if t is None and regressor else t
            prepared = self.masker.prepare(example)
            values = np.asarray(self.fn(prepared.labels, prepared.example), dtype=np.float64)
            out.append(Explanation(values=values, features=prepared.labels,
                                   target=int(p.argmax()) if t is None else t, prediction=p,
                                   class_names=self.adapter.class_names, method=self.name, params=self.params(),
                                   output="value" if regressor else "logit",
                                   cost=Cost(n_evals=1, seconds=seconds), text=prepared.text,
                                   words=prepared.words, word_index=prepared.word_index,
                                   model_id=self.adapter.model_id, input_id=self.adapter.input_id(example)))
        return out[0] if single else ExplanationSet(out)


    def _continuation(self, generation: Any, seconds: float) -> Explanation:
        """A causal LM's generation: values for the prompt's features, explaining the whole continuation."""
        prepared = self.masker.prepare(generation)
        values = np.asarray(self.fn(prepared.labels, prepared.example), dtype=np.float64)
        label = (generation.continuation,)
        return Explanation(values=values, features=prepared.labels, target=0,
                           prediction=np.array([np.exp(np.sum(generation.log_probs))]), class_names=label,
                           method=self.name, params=self.params(), output="log_probability",
                           cost=Cost(n_evals=0, seconds=seconds), text=prepared.text, words=prepared.words,
                           word_index=prepared.word_index, model_id=self.adapter.model_id,
                           input_id=self.adapter.input_id(generation))


class RandomAttribution(ModelIndependent):
    """Standard-normal values per feature, seeded by ``seed`` and the example's content: the chance level
    of every metric.

    Parameters
    ----------
    model : model, adapter or zoo name
    seed : int, default 0
    masker : Masker, optional
    executor : Batcher, optional
    """

    name = "random"

    def __init__(self, model: Any, *, seed: int = 0, masker: Any = None, executor: Batcher | None = None) -> None:
        self.seed = check_int(seed, "seed", owner="RandomAttribution", minimum=0)
        adapter = as_adapter(model)
        super().__init__(adapter, lambda labels, example: example_rng(self.seed, adapter, example)
                         .standard_normal(len(labels)), name="random", masker=masker, executor=executor)

    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}
