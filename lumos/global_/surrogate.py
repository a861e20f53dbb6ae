"""A global surrogate: a shallow decision tree trained to imitate the model's predictions.

The tree is fitted on the model's predicted classes (not the true labels) over training rows; its fidelity is
the fraction of held-out rows on which it predicts what the model predicts (1.0 = the tree reproduces the
model there). A low fidelity means the tree's rules do not describe the model. The decision path of any row
lists the tests it passes, root to leaf. Tables are split on their columns; texts on the presence of the
``n_words`` words found in most training texts (``has 'late'``), lower-cased.

References
----------
Craven, Shavlik. Extracting tree-structured representations of trained networks. NeurIPS 1995.
Molnar. Interpretable Machine Learning, section "Global surrogate", 2022.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..diagnosis.diagnose import predict_all
from ..errors import InvalidArgumentError, check_int
from ..models import as_adapter
from ..models.sklearn import table_rows

_WORD = re.compile(r"[a-z0-9']+|[@#][a-z0-9_]+")

__all__ = ["SurrogateTree"]


class SurrogateTree:
    """Fit a depth-limited tree to a tabular model's predictions.

    Parameters
    ----------
    model : anything :func:`lumos.as_adapter` accepts (a tabular adapter)
    max_depth : int, default 3
    min_samples_leaf : int, default 5
    seed : int, default 0
    n_words : int, default 200
        For text models: the vocabulary of word-presence features (most frequent in the fitted texts).

    Examples
    --------
    >>> tree = SurrogateTree("credit-scoring").fit(data.train.frame)          # doctest: +SKIP
    >>> tree.fidelity(data.test.frame), print(tree.path(data.test.frame.iloc[0]))  # doctest: +SKIP
    """

    def __init__(self, model: Any, *, max_depth: int = 3, min_samples_leaf: int = 5, seed: int = 0,
                 n_words: int = 200) -> None:
        self.adapter = as_adapter(model)
        self.max_depth = check_int(max_depth, "max_depth", owner="SurrogateTree", minimum=1)
        self.min_samples_leaf = check_int(min_samples_leaf, "min_samples_leaf", owner="SurrogateTree", minimum=1)
        self.seed = check_int(seed, "seed", owner="SurrogateTree", minimum=0)
        self.n_words = check_int(n_words, "n_words", owner="SurrogateTree", minimum=1)
        self.tree_: Any = None
        self.vocabulary_: tuple[str, ...] | None = None  # set by fit on texts

    @property
    def feature_names(self) -> tuple[str, ...]:
        if self.vocabulary_ is not None:
            return tuple(f"has '{w}'" for w in self.vocabulary_)
        names = self.adapter.feature_names
        return tuple(names) if names is not None else tuple(f"x{i}" for i in range(self.tree_.n_features_in_))

    @staticmethod
    def _is_text(inputs: Any) -> bool:
        return isinstance(inputs, str) or (isinstance(inputs, (list, tuple)) and len(inputs) > 0
                                           and all(isinstance(t, str) for t in inputs))

    def _words(self, text: str) -> set[str]:
        return set(_WORD.findall(text.lower()))

    def _rows(self, inputs: Any) -> np.ndarray:
        if self._is_text(inputs):
            if self.vocabulary_ is None:
                raise InvalidArgumentError("This SurrogateTree was fitted on rows of a table; it got texts.")
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            index = {w: i for i, w in enumerate(self.vocabulary_)}
            rows = np.zeros((len(texts), len(index)))
            for r, text in enumerate(texts):
                for w in self._words(text):
                    if w in index:
                        rows[r, index[w]] = 1.0
            return rows
        return table_rows(inputs, self.adapter.feature_names, "SurrogateTree")[0]

    def model_predictions(self, inputs: Any) -> np.ndarray:
        """The model's predicted class index for each row (or text)."""
        examples, _ = self.adapter.split_inputs(list(inputs) if self._is_text(inputs) else self._rows(inputs))
        return predict_all(self.adapter, examples, progress=False).argmax(1)

    def fit(self, inputs: Any) -> "SurrogateTree":
        """Fit the tree on ``inputs`` (rows, a DataFrame, or a list of texts) labelled with the model's
        predictions."""
        from collections import Counter

        from sklearn.tree import DecisionTreeClassifier

        if self._is_text(inputs):
            counts = Counter(w for t in inputs for w in self._words(t))
            self.vocabulary_ = tuple(w for w, _ in counts.most_common(self.n_words))
        else:
            self.vocabulary_ = None
        rows = self._rows(inputs)
        self.tree_ = DecisionTreeClassifier(max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                                            random_state=self.seed).fit(rows, self.model_predictions(inputs))
        return self

    def _check_fitted(self) -> None:
        if self.tree_ is None:
            raise InvalidArgumentError("This SurrogateTree is not fitted yet: call fit(training_rows) first.")

    def predict(self, inputs: Any) -> np.ndarray:
        """The tree's predicted class index for each row."""
        self._check_fitted()
        return self.tree_.predict(self._rows(inputs)).astype(np.int64)

    def fidelity(self, inputs: Any) -> float:
        """Fraction of rows (held out from fit) where the tree predicts the model's class."""
        self._check_fitted()
        return float((self.tree_.predict(self._rows(inputs)) == self.model_predictions(inputs)).mean())

    def path(self, row: Any) -> list[str]:
        """The tests one row passes from the root to its leaf, then the leaf's class, e.g.
        ``["Income <= 82.5 (Income = 60)", ..., "-> bad (leaf of 120 rows, 81% bad)"]``."""
        self._check_fitted()
        x = self._rows(row)
        if len(x) != 1:
            raise InvalidArgumentError(f"The 'row' parameter of SurrogateTree.path must be one row. Got {len(x)}.")
        x = x[0]
        tree, names = self.tree_.tree_, self.feature_names
        node, steps = 0, []
        while tree.children_left[node] != tree.children_right[node]:
            f, t = tree.feature[node], tree.threshold[node]
            left = x[f] <= t
            if self.vocabulary_ is not None:  # word presence: say it in words
                steps.append(f"{'no' if left else 'has'} '{self.vocabulary_[f]}'")
            else:
                steps.append(f"{names[f]} {'<=' if left else '>'} {t:.4g} ({names[f]} = {x[f]:.4g})")
            node = tree.children_left[node] if left else tree.children_right[node]
        counts = tree.value[node][0]
        cls = int(np.argmax(counts))
        share = counts[cls] / counts.sum()
        label = self.adapter.class_names[self.tree_.classes_[cls]]
        steps.append(f"-> {label} (leaf of {int(tree.n_node_samples[node])} rows, {share:.0%} {label})")
        return steps

    def rules(self) -> str:
        """The whole tree as indented text."""
        from sklearn.tree import export_text

        self._check_fitted()
        text = export_text(self.tree_, feature_names=list(self.feature_names), decimals=3)
        for i, c in enumerate(self.tree_.classes_):
            text = text.replace(f"class: {c}\n", f"class: {self.adapter.class_names[c]}\n")
        return text
