"""Model-parameter randomization sanity check (Adebayo et al., 2018), cascading from the top layer down.

The adapter is deep-copied (its torch module with it) and only the copy is randomized: the original
model is never modified.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..attribution.base import Method
from ..engine import track
from ..errors import InvalidArgumentError, check_float, check_int
from ..explanation import Explanation
from ..maskers import Prepared
from ..models.base import clone_adapter
from ._common import aligned_values, mean_ci, spearman

__all__ = ["SanityResult", "model_randomization", "layer_groups"]


@dataclass(frozen=True)
class SanityResult:
    """Rank correlation between a method's explanations before and after randomizing layers.

    Attributes
    ----------
    method : str
    layers : tuple of str
        The layer groups randomized, cumulatively, top first: stage ``i`` has groups ``0..i`` random.
    correlation : ndarray (n_stages, n_examples)
        Spearman rank correlation of the signed word values, original vs randomized model.
    abs_correlation : ndarray (n_stages, n_examples)
        The same for absolute values (Adebayo et al. report both).
    threshold : float
        A method *passes* when the mean correlation after the last stage is below this.
    """

    method: str
    layers: tuple[str, ...]
    correlation: np.ndarray
    abs_correlation: np.ndarray
    threshold: float

    @property
    def mean(self) -> np.ndarray:
        """Mean correlation per stage (NaNs of constant explanations left out)."""
        return np.array([mean_ci(row)[0] for row in self.correlation])

    @property
    def final(self) -> float:
        """Mean rank correlation with every layer randomized; lower is better (1 = unchanged)."""
        return float(self.mean[-1])

    @property
    def passed(self) -> bool:
        """Whether the explanations changed with the model (``final < threshold``). A method that fails
        explains something other than the model (e.g. the input alone)."""
        return bool(self.final < self.threshold)


def layer_groups(module: nn.Module) -> list[tuple[str, list[str]]]:
    """The module's parameters in layer groups, top (output) first, embeddings last.

    A transformer's layer stack is its largest ``nn.ModuleList``: groups are everything registered after the
    stack (pooler, classification head), each block of the stack from the last to the first, then everything
    registered before it (the embeddings). Without a ``ModuleList``, the module's children with parameters, in
    reverse order. Returns ``(name, parameter names)`` pairs.
    """
    names = [n for n, _ in module.named_parameters()]
    stacks = [(n, m) for n, m in module.named_modules() if isinstance(m, nn.ModuleList) and len(m) > 1]
    if stacks:
        stack_name, stack = max(stacks, key=lambda nm: sum(p.numel() for p in nm[1].parameters()))
        prefix = stack_name + "."
        inside = [n for n in names if n.startswith(prefix)]
        first, last = names.index(inside[0]), names.index(inside[-1])
        groups = []
        after, before = names[last + 1:], names[:first]
        if after:
            groups.append((_common_label(after, "output"), after))
        for i in reversed(range(len(stack))):
            block = [n for n in inside if n.startswith(f"{prefix}{i}.")]
            if block:
                groups.append((f"{stack_name}.{i}", block))
        if before:
            groups.append((_common_label(before, "embeddings"), before))
        return groups
    groups = []
    for child, m in module.named_children():
        params = [f"{child}.{n}" for n, _ in m.named_parameters()]
        if params:
            groups.append((child, params))
    own = [n for n, _ in module.named_parameters(recurse=False)]
    if own:
        groups.append(("(own)", own))
    return list(reversed(groups))


def _common_label(names: list[str], fallback: str) -> str:
    tops = sorted({n.rsplit(".", 2)[0] if n.count(".") >= 2 else n.split(".")[0] for n in names})
    label = ", ".join(tops)
    return label if len(label) <= 60 else fallback


def _randomize(module: nn.Module, names: Sequence[str], generator: torch.Generator) -> None:
    """Replace each named parameter by Gaussian noise of the parameter's own mean and standard deviation
    (0.02 where it has none, e.g. a LayerNorm's ones)."""
    params = dict(module.named_parameters())
    with torch.no_grad():
        for n in names:
            p = params[n]
            std = float(p.float().std()) if p.numel() > 1 else 0.0
            std = std if std > 0 else 0.02
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p.device, p.dtype)
            p.copy_(p.mean() + std * noise)


def model_randomization(method: Any, inputs: Any, *, target: Any = None, layers: int | None = None,
                        threshold: float = 0.5, seed: int = 0, masker: Any = None,
                        progress: bool | None = None) -> SanityResult:
    """Cascading model-parameter randomization: do the method's explanations depend on the model?

    Definition: explain ``inputs`` with the trained model; then randomize the model's layer groups one after
    another from the top (head) down to the embeddings (:func:`layer_groups`), re-explaining the same inputs
    for the same targets after each stage. Per stage and example, the Spearman rank correlation between the
    original and the randomized explanation (word values). **Lower is better**: a method that explains the
    model must change when the model is destroyed; a method whose explanations stay put (correlation near
    1) is flagged (``passed`` False).

    Parameters
    ----------
    method : an attribution method instance (its ``adapter`` must hold a torch module)
    inputs : input or list of inputs
    target : optional
        Default: the classes the trained model predicts (kept fixed for the randomized models).
    layers : int, optional
        Randomize only the top ``layers`` groups (default: all of them, down to the embeddings).
    threshold : float, default 0.5
        Pass mark on the final stage's mean rank correlation.
    seed : int, default 0
        Seeds the random weights.
    masker : Masker, optional
        Used to align word pieces to words (default: the adapter's).

    Returns
    -------
    SanityResult

    References
    ----------
    Adebayo, Gilmer, Muelly, Goodfellow, Hardt, Kim. Sanity checks for saliency maps. NeurIPS 2018.
    """
    owner = "model_randomization"
    if not isinstance(method, Method):
        raise InvalidArgumentError(f"The 'method' parameter of {owner} must be an attribution method instance "
                                   f"(e.g. lumos.Saliency(model)). Got {type(method).__name__}.")
    adapter = method.adapter
    threshold = check_float(threshold, "threshold", owner=owner, minimum=-1, maximum=1)
    check_int(seed, "seed", owner=owner, minimum=0)
    clone = clone_adapter(adapter, owner=owner)  # first: a model without a torch module fails before any work
    examples, _ = adapter.split_inputs(inputs)
    masker = masker if masker is not None else adapter.default_masker()
    original = list(method.attribute(examples, target=target))
    targets = [e.target for e in original]
    prepared = [masker.prepare(x) for x in examples]
    before = [_values(e, p) for e, p in zip(original, prepared)]

    groups = layer_groups(clone.module)
    if layers is not None:
        groups = groups[:check_int(layers, "layers", owner=owner, minimum=1, maximum=len(groups))]
    randomized = method.with_adapter(clone)
    generator = torch.Generator().manual_seed(seed)
    corr = np.full((len(groups), len(examples)), np.nan)
    abs_corr = np.full_like(corr, np.nan)
    for s, (_, names) in enumerate(track(groups, description=f"Randomizing ({method.name})",
                                         enabled=progress)):
        _randomize(clone.module, names, generator)
        clone.forget_model_id()  # each randomized copy is another model
        after = list(randomized.attribute(examples, target=targets))
        for i, (e, p) in enumerate(zip(after, prepared)):
            a = _values(e, p)
            corr[s, i] = spearman(before[i], a)
            abs_corr[s, i] = spearman(np.abs(before[i]), np.abs(a))
    return SanityResult(method=method.name,
                        layers=tuple(name for name, _ in groups), correlation=corr, abs_correlation=abs_corr,
                        threshold=threshold)


def _values(e: Explanation, p: Prepared) -> np.ndarray:
    return aligned_values(e, p, "model_randomization")
