"""Rollout and flow on tiny hand-built attention stacks: hand-computed values, and flow equal to a max-flow
computed independently (networkx) on the same graph."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from lumos import InvalidArgumentError
from lumos.attention import flow, query_weights, rollout, with_residual

# Two layers, two tokens, bottom layer first. With the residual (0.5 A + 0.5 I):
#   Ã1 = [[1, 0], [0.25, 0.75]],  Ã2 = [[0.75, 0.25], [0, 1]].
STACK = np.array([[[1.0, 0.0], [0.5, 0.5]],
                  [[0.5, 0.5], [0.0, 1.0]]])


def test_residual_is_half_identity():
    """Ã = 0.5 A + 0.5 I, rows still summing to one."""
    np.testing.assert_allclose(with_residual(STACK), [[[1, 0], [0.25, 0.75]], [[0.75, 0.25], [0, 1]]])


def test_rollout_matches_hand_computation():
    """From [CLS]: [1, 0] Ã2 = [0.75, 0.25]; times Ã1 = [0.75 + 0.0625, 0.1875]. From the mean of both
    tokens: [0.375, 0.625] Ã1 = [0.53125, 0.46875]."""
    np.testing.assert_allclose(rollout(STACK), [0.8125, 0.1875])
    np.testing.assert_allclose(rollout(STACK, query_weights(2, "mean")), [0.53125, 0.46875])
    # Without the residual, rollout is the plain product of the attention matrices.
    np.testing.assert_allclose(rollout(STACK, residual=0.0), np.array([1.0, 0.0]) @ STACK[1] @ STACK[0])


def test_flow_matches_hand_computation():
    """From [CLS] (capacity 1 into (2, 0)): token 0 gets 0.75 via (1, 0) plus 0.25 via (1, 1) = 1; token 1
    is reached only through (1, 1), fed by at most 0.25. From the mean (0.5 into each top node): token 1
    gets min(0.25 + 0.5, 0.75) = 0.75; token 0 gets 0.5 via (1, 0) plus 0.25 via (1, 1) -> (0, 0)."""
    np.testing.assert_allclose(flow(STACK), [1.0, 0.25], atol=1e-8)
    np.testing.assert_allclose(flow(STACK, query_weights(2, "mean")), [0.75, 0.75], atol=1e-8)


def independent_flow(stack: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Max-flow per input token with networkx (float capacities, preflow-push), built from scratch."""
    a = 0.5 * stack + 0.5 * np.eye(stack.shape[1])
    a = a / a.sum(-1, keepdims=True)
    n_layers, n = a.shape[0], a.shape[1]
    g = nx.DiGraph()
    for i in range(n):
        g.add_edge("s", ("top", i), capacity=float(query[i]))
    names = {n_layers: lambda i: ("top", i)}
    for layer in range(n_layers, 0, -1):
        upper = names.get(layer, lambda i, layer=layer: (layer, i))
        lower = (lambda i, layer=layer: (layer - 1, i))
        for i in range(n):
            for j in range(n):
                g.add_edge(upper(i), lower(j), capacity=float(a[layer - 1, i, j]))
    return np.array([nx.maximum_flow_value(g, "s", (0, j)) for j in range(n)])


@pytest.mark.parametrize("query", ["cls", "mean"])
def test_flow_equals_networkx_max_flow_on_random_stacks(query):
    """On random 3-layer, 6-token, 4-head stacks, flow equals networkx's max-flow to 1e-7."""
    rng = np.random.default_rng(7)
    for _ in range(3):
        stack = rng.random((3, 4, 6, 6)) ** 3
        stack /= stack.sum(-1, keepdims=True)
        q = query_weights(6, query)
        ours = flow(stack, q)
        np.testing.assert_allclose(ours, independent_flow(stack.mean(1), q), atol=1e-7)
        # Rollout is one feasible flow to each token, so the max-flow is at least rollout.
        assert (ours <= q.sum() + 1e-7).all() and (ours >= rollout(stack, q) - 1e-7).all()


def test_rollout_is_a_distribution_and_heads_are_averaged():
    """Rollout of row-stochastic matrices sums to the query's mass; a 4-D stack is the mean over heads."""
    rng = np.random.default_rng(0)
    stack = rng.random((4, 3, 5, 5))
    stack /= stack.sum(-1, keepdims=True)
    q = query_weights(5, "mean")
    assert rollout(stack, q).sum() == pytest.approx(1.0)
    np.testing.assert_allclose(rollout(stack, q), rollout(stack.mean(1), q))


def test_bad_shapes_and_queries_are_refused():
    """Errors name the argument and what is accepted."""
    with pytest.raises(InvalidArgumentError, match=r"'attentions' parameter of with_residual must have shape"):
        rollout(np.ones((2, 3, 4)))
    with pytest.raises(InvalidArgumentError, match=r"'query' parameter must be 'cls', 'mean' or a token index"):
        query_weights(3, "max")
    with pytest.raises(InvalidArgumentError, match="'residual' parameter of with_residual"):
        rollout(STACK, residual=1.5)
