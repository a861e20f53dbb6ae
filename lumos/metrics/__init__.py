"""Explanation quality: faithfulness, sanity checks, robustness and form, agreement, plausibility, and
:func:`evaluate`, which runs them all and ranks methods.

Every metric documents its definition, its direction (higher or lower is better) and its reference.
"""

from .agreement import agreement_matrix, rank_agreement, topk_overlap
from .baselines import ModelIndependent, RandomAttribution
from .evaluate import METRICS, EvaluationResult, MethodEvaluation, evaluate
from .faithfulness import DEFAULT_FRACTIONS, FaithfulnessResult, faithfulness, faithfulness_correlation
from .plausibility import PlausibilityResult, plausibility, rationale_mask
from .robustness import complexity, max_sensitivity, sparseness
from .sanity import SanityResult, layer_groups, model_randomization

__all__ = [
    "faithfulness", "FaithfulnessResult", "faithfulness_correlation", "DEFAULT_FRACTIONS",
    "model_randomization", "SanityResult", "layer_groups",
    "max_sensitivity", "complexity", "sparseness",
    "rank_agreement", "topk_overlap", "agreement_matrix",
    "plausibility", "PlausibilityResult", "rationale_mask",
    "ModelIndependent", "RandomAttribution",
    "evaluate", "EvaluationResult", "MethodEvaluation", "METRICS",
]
