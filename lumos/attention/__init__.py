"""Attention: raw weights, rollout, flow, attention x gradient (attribution methods), and head importance."""

from .attention_x_gradient import AttentionXGradient
from .base import AttentionMethod
from .attention_flow import AttentionFlow
from .graph import flow, query_weights, rollout, with_residual
from .heads import HeadImportance, head_importance
from .raw import RawAttention
from .attention_rollout import AttentionRollout

__all__ = ["AttentionMethod", "RawAttention", "AttentionRollout", "AttentionFlow", "AttentionXGradient",
           "HeadImportance", "head_importance", "rollout", "flow", "with_residual", "query_weights"]
