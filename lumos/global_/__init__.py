"""Global explanations: what drives a model over a whole dataset.

- :func:`permutation_importance`: score drop when a column is shuffled, with repeats and confidence intervals;
- :func:`aggregate_importance`: mean |attribution| of local explanations per feature or word, per class;
- :class:`SurrogateTree`: a shallow tree imitating the model, with its fidelity and decision paths.
"""

from .aggregate import GlobalImportance, aggregate_importance
from .permutation import PermutationImportance, permutation_importance
from .surrogate import SurrogateTree

__all__ = ["GlobalImportance", "aggregate_importance", "PermutationImportance", "permutation_importance",
           "SurrogateTree"]
