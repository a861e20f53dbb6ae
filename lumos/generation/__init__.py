"""Inside a causal language model: the logit lens (:func:`logit_lens`: every layer read as the next-token
distribution) and causal tracing (:func:`causal_trace`: which hidden states carry the answer, by activation
patching)."""

from .lens import LogitLens, logit_lens
from .patching import CausalTrace, causal_trace

__all__ = ["logit_lens", "LogitLens", "causal_trace", "CausalTrace"]
