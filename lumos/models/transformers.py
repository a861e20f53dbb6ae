"""Adapter for transformer text classifiers (Hugging Face models and the zoo's pooled classifiers).

Gradients are taken at the word-embedding output: the model is called with ``inputs_embeds``, so no hook
is placed on it. Features are word pieces; special tokens ([CLS], [SEP]) and padding are not features and
keep their embeddings in every baseline.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import (InvalidArgumentError, InvalidTypeError, LumosWarning, ModelLoadError, check_choice,
                      check_int)
from ..maskers.text import group_by_words
from .base import Encoded, FeatureInfo, GradientAdapter, register_adapter

__all__ = ["TransformersAdapter", "load_pretrained", "group_by_words"]  # group_by_words: lumos.maskers.text

class HuggingFaceModel:
    """What the adapters of Hugging Face models share: the module is ``self.model``, and the device is where
    its input embeddings (``self.embeddings``) live, so inputs follow a model moved or dispatched anywhere."""

    model: nn.Module
    embeddings: nn.Module

    @property
    def module(self) -> nn.Module:
        return self.model

    @property
    def device(self) -> torch.device:
        return self.embeddings.weight.device


class TransformersAdapter(HuggingFaceModel, GradientAdapter):
    """Wrap a text classifier and its tokenizer.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier whose ``forward`` accepts ``inputs_embeds`` and ``attention_mask`` keywords and returns
        logits of shape (B, n_classes), or an output object with ``.logits`` (every Hugging Face
        ``*ForSequenceClassification`` model does). It is put in eval mode: dropout would make explanations
        random.
    tokenizer : a fast Hugging Face tokenizer
    class_names : sequence of str, optional
        Defaults to ``model.config.id2label`` when present.
    max_length : int, default 128
        Longer texts are truncated to this many tokens.
    batch_size : int, default 64
        Rows per forward pass in :meth:`predict`.
    name : str, optional
        Shown in reports.
    """

    baseline_kinds: ClassVar[tuple[str, ...]] = ("pad", "mask", "zero")
    modality = "text"
    input_description = "a non-empty str"

    def __init__(self, model: nn.Module, tokenizer: Any, *, class_names: Sequence[str] | None = None,
                 max_length: int = 128, batch_size: int = 64, name: str | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise InvalidTypeError(f"The 'model' parameter of TransformersAdapter must be a torch.nn.Module. "
                                   f"Got {type(model).__name__}.")
        if not getattr(tokenizer, "is_fast", False):
            raise InvalidTypeError("The 'tokenizer' parameter of TransformersAdapter must be a fast Hugging Face "
                                   f"tokenizer (it maps tokens back to words). Got {type(tokenizer).__name__}.")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = check_int(max_length, "max_length", owner="TransformersAdapter", minimum=3)
        self.batch_size = check_int(batch_size, "batch_size", owner="TransformersAdapter", minimum=1)
        if class_names is None:
            id2label = getattr(getattr(model, "config", None), "id2label", None)
            if not id2label:
                raise InvalidArgumentError("The 'class_names' parameter of TransformersAdapter is required when "
                                           "the model's config has no id2label.")
            class_names = [id2label[i] for i in sorted(id2label)]
        self.class_names = tuple(str(c) for c in class_names)
        self.name = name or getattr(getattr(model, "config", None), "name_or_path", None) or type(model).__name__
        self.embeddings = model.get_input_embeddings()
        # Mean-pooled classifiers (the zoo's) say so; a Hugging Face classifier reads its first token.
        self.pooling = getattr(model, "pooling", "cls")

    # -- inputs ---------------------------------------------------------------------------------------
    def split_inputs(self, inputs: Any) -> tuple[list[str], bool]:
        single = isinstance(inputs, str)
        examples = [inputs] if single else inputs
        if not isinstance(examples, (list, tuple)):
            raise InvalidTypeError(f"The 'inputs' parameter must be a str or a list of str. "
                                   f"Got {type(inputs).__name__}.")
        if not examples:
            raise InvalidArgumentError("The 'inputs' parameter must hold at least one text. Got an empty list.")
        for i, text in enumerate(examples):
            if not isinstance(text, str):
                raise InvalidTypeError(f"The 'inputs' parameter must be a str or a list of str. "
                                       f"Item {i} is a {type(text).__name__}.")
            if not text.strip():
                what = "The text" if single else f"Text {i}"
                raise InvalidArgumentError(f"{what} in 'inputs' is empty: there is nothing to explain. "
                                           f"Got {text!r}.")
        self._check_lengths(examples, single)
        return list(examples), single

    def _check_lengths(self, texts: Sequence[str], single: bool) -> None:
        """Refuse a text the tokenizer keeps nothing of (control characters only); warn, saying how much is cut,
        about a text longer than the model reads."""
        room = self.max_length - self.tokenizer.num_special_tokens_to_add()
        lengths = [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False,
                                                      split_special_tokens=True)["input_ids"]]
        for i, (text, n) in enumerate(zip(texts, lengths)):
            what = "The text" if single else f"Text {i}"
            if n == 0:
                raise InvalidArgumentError(f"{what} in 'inputs' has nothing the tokenizer keeps (only control or "
                                           f"unprintable characters): there is nothing to explain. Got {text[:40]!r}.")
            if n > room:
                warnings.warn(f"{what} has {n:,} tokens; {self.name} reads {room} (max_length {self.max_length}), "
                              f"so only its first {room} tokens are explained and the other {n - room:,} are cut.",
                              LumosWarning, stacklevel=4)

    def default_masker(self):
        from ..maskers import TextMasker

        return TextMasker(self.tokenizer, max_length=self.max_length)

    def fingerprint(self, example: str) -> bytes:
        return example.encode("utf-8")

    def size(self, example: str | np.ndarray) -> int:
        return len(example)  # characters of a text, or tokens of an id sequence: only compared within a kind

    def _tokenize(self, texts: Sequence[str]):
        # split_special_tokens: "[CLS]" typed by a user is text, never the special token.
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                              split_special_tokens=True, return_tensors="pt", return_offsets_mapping=True,
                              return_special_tokens_mask=True)

    # -- running the model ----------------------------------------------------------------------------
    def model_inputs(self, rows: Sequence[str | np.ndarray]) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` (B, T) on the model's device, for texts or token-id sequences
        (1-D int arrays with the special tokens, as maskers produce them), padded to the longest row."""
        if all(isinstance(r, str) for r in rows):
            enc = self._tokenize(rows)
            return {"input_ids": enc["input_ids"].to(self.device),
                    "attention_mask": enc["attention_mask"].to(self.device)}
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = np.full((len(rows), width), pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            if isinstance(r, str):
                raise InvalidTypeError("A batch given to predict must hold only texts or only token-id arrays.")
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return {"input_ids": torch.from_numpy(ids).to(self.device),
                "attention_mask": torch.from_numpy(mask).to(self.device)}

    def run(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Logits (B, n_classes) from ``input_ids`` or ``inputs_embeds``, with the ``attention_mask``."""
        out = self.model(**inputs)
        return out if isinstance(out, torch.Tensor) else out.logits

    # -- gradient path --------------------------------------------------------------------------------
    def encode(self, examples: Sequence[str]) -> Encoded:
        enc = self._tokenize(examples)
        input_ids = enc["input_ids"].to(self.device)
        attention_mask = enc["attention_mask"].to(self.device)
        special = enc["special_tokens_mask"].bool().to(self.device)
        feature_mask = attention_mask.bool() & ~special
        with torch.no_grad():
            x = self.embeddings(input_ids).detach()  # (B, T, D)
        features = [self._features(enc, i, text) for i, text in enumerate(examples)]
        return Encoded(x=x, extras={"attention_mask": attention_mask}, feature_mask=feature_mask,
                       features=features,
                       lengths=attention_mask.sum(1) if self.tokenizer.padding_side == "right" else None)

    def _features(self, enc: Any, i: int, text: str) -> FeatureInfo:
        """Feature labels (word pieces) and, for display, the whitespace-delimited words they belong to."""
        ids = enc["input_ids"][i].tolist()
        offsets = enc["offset_mapping"][i].tolist()
        special = enc["special_tokens_mask"][i].tolist()
        mask = enc["attention_mask"][i].tolist()
        positions, labels, starts = [], [], []
        for pos, (tid, (start, _end), sp, m) in enumerate(zip(ids, offsets, special, mask)):
            if sp or not m:
                continue
            positions.append(pos)
            labels.append(self.tokenizer.convert_ids_to_tokens(tid))
            starts.append(start)
        word_index, words = group_by_words(text, starts)
        return FeatureInfo(labels=tuple(labels), positions=tuple(positions), text=text,
                           words=words, word_index=word_index)

    def forward(self, x: torch.Tensor, extras: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.run({"inputs_embeds": x, "attention_mask": extras["attention_mask"]})

    def baseline(self, encoded: Encoded, kind: str) -> torch.Tensor:
        check_choice(kind, "baseline", self.baseline_kinds)
        if kind == "zero":
            fill = torch.zeros_like(encoded.x[0, 0])
        else:
            token_id = self.tokenizer.pad_token_id if kind == "pad" else self.tokenizer.mask_token_id
            if token_id is None:
                raise InvalidArgumentError(f"The tokenizer of {self.name!r} has no {kind} token; use "
                                           "baseline='zero' or another kind.")
            with torch.no_grad():
                fill = self.embeddings(torch.tensor([token_id], device=self.device))[0].detach()
        mask = encoded.feature_mask.unsqueeze(-1)  # (B, T, 1)
        return torch.where(mask, fill.to(encoded.x.dtype), encoded.x)


@register_adapter(nn.Module)
def _adapter_for_module(model: nn.Module, *, tokenizer: Any = None, **kwargs: Any):
    """A module with a tokenizer is a causal language model when it generates (a transformers model whose
    ``can_generate()`` says so, not an encoder-decoder), else a text classifier; with ``image_size``, an image
    classifier; without either, a tensor model."""
    if tokenizer is not None and _generates(model):
        from .causal_lm import CausalLMAdapter

        return CausalLMAdapter(model, tokenizer, **kwargs)
    if tokenizer is not None:
        return TransformersAdapter(model, tokenizer, **kwargs)
    if "image_size" in kwargs:
        from .vision import ImageAdapter

        return ImageAdapter(model, **kwargs)
    from .torch import TorchAdapter

    return TorchAdapter(model, **kwargs)


def _generates(model: nn.Module) -> bool:
    from transformers import PreTrainedModel

    return (isinstance(model, PreTrainedModel) and model.can_generate()
            and not getattr(model.config, "is_encoder_decoder", False))


def load_pretrained(path: str | Path, **kwargs: Any) -> GradientAdapter:
    """Load a sequence classifier, or a causal language model (a config whose architecture ends in
    ``ForCausalLM``), saved with ``save_pretrained`` in a local directory (never from a hub).

    Attention is computed eagerly so that attention weights can be returned.
    """
    import json

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelLoadError(
            f"The 'model' argument {str(path)!r} is neither a zoo model name nor a directory holding a "
            "Hugging Face model (config.json, weights and tokenizer). Accepted: a zoo name "
            "(see `lumos zoo list`) or such a directory."
        )
    try:
        architectures = json.loads((path / "config.json").read_text(encoding="utf-8")).get("architectures") or []
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelLoadError(f"The config.json in {str(path)!r} is not a JSON object: {exc}") from exc
    if any(str(a).endswith("ForCausalLM") or str(a).endswith("LMHeadModel") for a in architectures):
        from .causal_lm import load_causal_lm

        return load_causal_lm(path, **kwargs)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager",
                                                                   local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"Could not load a sequence classifier from {str(path)!r}: {exc}") from exc
    adapter = TransformersAdapter(model, tokenizer, name=kwargs.pop("name", path.name), **kwargs)
    adapter.card = {"source": str(path.resolve())}  # where lumos.compression.save finds the architecture again
    return adapter
