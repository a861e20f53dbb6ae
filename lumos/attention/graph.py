"""The mathematics of attention rollout and attention flow, on plain arrays.

Both treat a stack of attention matrices as a layered graph: node ``(l, i)`` is token ``i`` after block
``l`` (``l = 0`` are the input embeddings), and the edge ``(l, i) -> (l - 1, j)`` carries the weight token
``i`` of block ``l`` gives token ``j`` below. The residual connection is accounted for as Abnar & Zuidema
do: each block's matrix becomes ``(1 - r) A + r I`` (``r = 0.5``), rows renormalized.

References
----------
Abnar, Zuidema. Quantifying Attention Flow in Transformers. ACL 2020.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError, check_float

__all__ = ["with_residual", "query_weights", "rollout", "flow"]


def _check_stack(attentions: np.ndarray, owner: str) -> np.ndarray:
    a = np.asarray(attentions, dtype=np.float64)
    if a.ndim == 4:  # (layers, heads, n, n): heads are averaged
        a = a.mean(1)
    if a.ndim != 3 or a.shape[1] != a.shape[2] or a.shape[0] == 0:
        raise InvalidArgumentError(f"The 'attentions' parameter of {owner} must have shape (layers, n, n) or "
                                   f"(layers, heads, n, n). Got {tuple(np.shape(attentions))}.")
    return a


def with_residual(attentions: np.ndarray, residual: float = 0.5) -> np.ndarray:
    """``(1 - residual) * A + residual * I`` per layer, rows renormalized to sum to one; (L, n, n)."""
    a = _check_stack(attentions, "with_residual")
    residual = check_float(residual, "residual", owner="with_residual", minimum=0.0, maximum=1.0)
    a = (1.0 - residual) * a + residual * np.eye(a.shape[1])[None]
    return a / a.sum(-1, keepdims=True)


def query_weights(n: int, query: str | int) -> np.ndarray:
    """Weights (n,) over the top layer's tokens that form the output: ``"cls"`` (token 0), ``"mean"`` (every
    token equally, for mean-pooled classifiers) or a token index."""
    q = np.zeros(n)
    if query == "mean":
        q[:] = 1.0 / n
    elif query == "cls":
        q[0] = 1.0
    elif isinstance(query, (int, np.integer)) and not isinstance(query, bool) and -n <= query < n:
        q[query] = 1.0
    else:
        raise InvalidArgumentError(f"The 'query' parameter must be 'cls', 'mean' or a token index in "
                                   f"[{-n}, {n - 1}]. Got {query!r}.")
    return q


def rollout(attentions: np.ndarray, query: np.ndarray | None = None, *, residual: float = 0.5) -> np.ndarray:
    """Attention rollout: how much of the output's attention reaches each input token through every path.

    ``R = Ã_L ... Ã_2 Ã_1`` with ``Ã_l = (1 - residual) A_l + residual I``; the result is ``q^T R``.

    Parameters
    ----------
    attentions : array (L, n, n) or (L, H, n, n)
        Row-stochastic attention of each layer, bottom first; heads are averaged.
    query : array (n,), optional
        Weights of the top-layer tokens that form the output; default the first token ([CLS]).
    residual : float in [0, 1], default 0.5

    Returns
    -------
    ndarray (n,)
        Non-negative, sums to ``sum(query)``.
    """
    a = with_residual(attentions, residual)
    n = a.shape[1]
    q = query_weights(n, "cls") if query is None else np.asarray(query, dtype=np.float64)
    out = q
    for layer in a[::-1]:  # q^T A_L ... A_1, applied from the top
        out = out @ layer
    return out


def flow(attentions: np.ndarray, query: np.ndarray | None = None, *, residual: float = 0.5) -> np.ndarray:
    """Attention flow: for each input token, the maximum flow from the output to it through the layered
    graph whose edge capacities are the (residual-adjusted) attention weights.

    A source feeds each top-layer token ``i`` with capacity ``query[i]``; the value for input token ``j`` is
    the max-flow from that source to node ``(0, j)``. Unlike rollout, which multiplies weights along paths,
    flow is limited by each path's narrowest edge, and the capacities are shared between paths.

    Parameters and returns as :func:`rollout`; values lie in ``[0, sum(query)]``.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    a = with_residual(attentions, residual)
    n_layers, n = a.shape[0], a.shape[1]
    q = query_weights(n, "cls") if query is None else np.asarray(query, dtype=np.float64)
    if q.shape != (n,) or (q < 0).any():
        raise InvalidArgumentError(f"The 'query' parameter of flow must be non-negative weights of shape ({n},). "
                                   f"Got shape {q.shape}.")
    # Nodes: (l, i) -> l * n + i for l = 0..L, then the source. scipy's max-flow takes integer capacities:
    # weights are scaled so that the total source capacity is 2**30 (rounding moves a value by < 1e-8).
    scale = 2.0 ** 30 / max(q.sum(), 1e-300)
    source = (n_layers + 1) * n
    rows, cols, caps = [np.full(n, source)], [n_layers * n + np.arange(n)], [q]
    for layer in range(1, n_layers + 1):
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        rows.append((layer * n + i).ravel())
        cols.append(((layer - 1) * n + j).ravel())
        caps.append(a[layer - 1].ravel())
    cap = np.rint(np.concatenate(caps) * scale).astype(np.int64)
    cap = np.minimum(cap, 2 ** 31 - 1).astype(np.int32)
    keep = cap > 0
    size = source + 1
    graph = csr_matrix((cap[keep], (np.concatenate(rows)[keep], np.concatenate(cols)[keep])), shape=(size, size))
    graph.sum_duplicates()
    out = np.zeros(n)
    for j in range(n):
        out[j] = maximum_flow(graph, source, j).flow_value / scale
    return out
