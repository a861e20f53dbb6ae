"""Adapter for causal (decoder-only) language models: GPT-2, Llama, SmolLM, Qwen and every other Hugging Face
``AutoModelForCausalLM``.

What is explained is a :class:`Generation`: a prompt and its continuation as token ids. The continuation is
either generated here (:meth:`CausalLMAdapter.generate`, greedy or seeded sampling) or given and scored by
teacher forcing (:meth:`CausalLMAdapter.continuation`). Every token of the sequence is a feature (a source);
generated token ``i`` at sequence position ``p`` is predicted by the logits at position ``p - 1``, which depend on
positions ``0..p-1`` only (the causal mask).

Outputs are sequences of logits (rows, T, vocabulary). They are only ever produced where they are read:
:meth:`CausalLMAdapter.outputs_at` and the gradient path's ``positions`` run the language-model head on the
requested positions alone, so a 49,152-token vocabulary costs K rows of logits, not T.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import (InvalidArgumentError, InvalidTypeError, ModelLoadError, UnsupportedModelError, check_choice,
                      check_float, check_int)
from ..maskers.generation import PromptMasker, SequenceRow
from ..sequences import Generation
from .base import Encoded, FeatureInfo, GradientAdapter
from .transformers import HuggingFaceModel

__all__ = ["CausalLMAdapter", "Generation", "load_causal_lm"]

#: A continuation longer than this needs an explicit ``max_new_tokens`` check against the context instead.
MAX_NEW_TOKENS = 4096


class CausalLMAdapter(HuggingFaceModel, GradientAdapter):
    """Wrap a Hugging Face causal language model and its tokenizer.

    Parameters
    ----------
    model : transformers ``PreTrainedModel`` for causal LM
        Anything ``AutoModelForCausalLM`` builds (its ``forward`` takes ``input_ids`` or ``inputs_embeds``,
        ``attention_mask`` and ``logits_to_keep``). Put in eval mode; load it with
        ``attn_implementation="eager"`` for attention weights.
    tokenizer : a fast Hugging Face tokenizer
    max_new_tokens : int, default 16
        Tokens generated when a method is given a prompt (a str) rather than a :class:`Generation`.
    batch_size : int, default 16
        Sequences per forward pass in :meth:`predict` and perturbation runs.
    device, dtype : optional
        Move the model there / cast it (e.g. ``"cuda"``, ``torch.bfloat16``); default: as it is. Every tensor
        the adapter makes follows the model.
    name : str, optional

    Examples
    --------
    >>> lm = lumos.load_model("smollm2-135m")                           # doctest: +SKIP
    >>> g = lm.generate("The capital of France is", max_new_tokens=5)   # doctest: +SKIP
    >>> g.continuation                                                  # doctest: +SKIP
    ' Paris.'
    """

    modality = "text"
    task = "causal_lm"
    baseline_kinds: ClassVar[tuple[str, ...]] = ("zero", "pad", "eos", "unk")
    input_description = "a non-empty str prompt or a lumos Generation"
    output_kind = "logits"

    def __init__(self, model: nn.Module, tokenizer: Any, *, max_new_tokens: int = 16, batch_size: int = 16,
                 device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
                 name: str | None = None) -> None:
        owner = "CausalLMAdapter"
        if not isinstance(model, nn.Module) or model.get_output_embeddings() is None:
            raise InvalidTypeError(f"The 'model' parameter of {owner} must be a causal language model (a "
                                   f"transformers AutoModelForCausalLM). Got {type(model).__name__}.")
        if not getattr(tokenizer, "is_fast", False):
            raise InvalidTypeError(f"The 'tokenizer' parameter of {owner} must be a fast Hugging Face tokenizer. "
                                   f"Got {type(tokenizer).__name__}.")
        if dtype is not None:
            if isinstance(dtype, str):
                check_choice(dtype, "dtype", ("float32", "float16", "bfloat16", "float64"), owner=owner)
                dtype = getattr(torch, dtype)
            model = model.to(dtype=dtype)
        if device is not None:
            try:
                model = model.to(torch.device(device))
            except (RuntimeError, AssertionError) as exc:
                raise InvalidArgumentError(f"The 'device' parameter of {owner} must name a device torch can use "
                                           f"here ('cpu', 'cuda', 'cuda:0', 'mps'). Got {device!r}: {exc}") from None
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_new_tokens = check_int(max_new_tokens, "max_new_tokens", owner=owner, minimum=1,
                                        maximum=MAX_NEW_TOKENS)
        self.batch_size = check_int(batch_size, "batch_size", owner=owner, minimum=1)
        self.name = name or getattr(model.config, "name_or_path", None) or type(model).__name__
        self.embeddings = model.get_input_embeddings()
        self.class_names = ()  # the vocabulary is not a list of classes: targets are tokens
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])
        self.context_length = int(getattr(model.config, "max_position_embeddings", 0)
                                  or getattr(model.config, "n_positions", 0) or 2048)
        # transformers >= 5.2x names the key-value cache ``cache`` (``past_key_values`` before, deprecated since).
        self._cache_name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self._pad_id = next((int(t) for t in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0) if t is not None), 0)

    # -- what the model is ----------------------------------------------------------------------------
    @property
    def dtype(self) -> torch.dtype:
        return self.embeddings.weight.dtype

    @property
    def n_classes(self) -> int:
        return self.vocab_size

    def token_text(self, token_id: int) -> str:
        return self.tokenizer.decode([int(token_id)])

    def token_id(self, token: str | int, *, name: str = "contrast", owner: str | None = None) -> int:
        """The id of a single token given as its text or its id; an error naming ``name`` when ``token`` is
        not exactly one token of the vocabulary."""
        where = f" of {owner}" if owner else ""
        if isinstance(token, (int, np.integer)) and not isinstance(token, bool):
            if 0 <= int(token) < self.vocab_size:
                return int(token)
            raise InvalidArgumentError(f"The '{name}' parameter{where} must be a token id in [0, {self.vocab_size - 1}] "
                                       f"or a text that is exactly one token. Got {token!r}.")
        if not isinstance(token, str) or not token:
            raise InvalidArgumentError(f"The '{name}' parameter{where} must be a non-empty text that is exactly one "
                                       f"token, or a token id. Got {token!r}.")
        ids = self.tokenizer(token, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            pieces = [self.token_text(i) for i in ids]
            raise InvalidArgumentError(f"The '{name}' parameter{where} must be exactly one token of the model's "
                                       f"vocabulary; {token!r} is {len(ids)} tokens {pieces}. Try a leading space "
                                       f"(' Paris') or a shorter text.")
        return int(ids[0])

    # -- inputs ---------------------------------------------------------------------------------------
    def split_inputs(self, inputs: Any) -> tuple[list[Generation], bool]:
        """Generations as they are; prompts (str) are continued greedily for ``max_new_tokens`` tokens."""
        single = isinstance(inputs, (str, Generation))
        items = [inputs] if single else inputs
        if not isinstance(items, (list, tuple)) or not items:
            raise InvalidTypeError("The 'inputs' parameter must be a prompt (str), a lumos Generation, or a "
                                   f"non-empty list of them. Got {type(inputs).__name__}"
                                   f"{' (empty)' if isinstance(items, (list, tuple)) else ''}.")
        out = []
        for i, item in enumerate(items):
            if isinstance(item, str):
                item = self.generate(item)
            elif not isinstance(item, Generation):
                raise InvalidTypeError(f"The 'inputs' parameter must hold prompts (str) or lumos Generations. "
                                       f"Item {i} is a {type(item).__name__}.")
            if item.n_generated == 0:
                raise InvalidArgumentError(f"Input {i} has no continuation to explain: generate one, or give a "
                                           "continuation to CausalLMAdapter.continuation.")
            out.append(item)
        return out, single

    def encode_prompt(self, prompt: str, *, chat: bool = False) -> list[int]:
        """The prompt's token ids (with the chat template when ``chat``), checked against the context."""
        if not isinstance(prompt, str):
            raise InvalidTypeError(f"The 'prompt' must be a str. Got {type(prompt).__name__}.")
        if not prompt.strip():
            raise InvalidArgumentError(f"The 'prompt' is empty: there is nothing to continue. Got {prompt!r}.")
        if chat:
            if not getattr(self.tokenizer, "chat_template", None):
                raise InvalidArgumentError(f"The 'chat' option needs a tokenizer with a chat template; {self.name!r} "
                                           "has none. Use chat=False.")
            ids = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                     add_generation_prompt=True, tokenize=True)
            ids = ids["input_ids"] if isinstance(ids, Mapping) else ids
        else:
            ids = self.tokenizer(prompt)["input_ids"]
        ids = [int(i) for i in ids]
        if len(ids) >= self.context_length:
            raise InvalidArgumentError(f"The 'prompt' is {len(ids)} tokens; {self.name!r} reads at most "
                                       f"{self.context_length} tokens, and at least one must be left to generate.")
        return ids

    def _check_new_tokens(self, n_prompt: int, max_new_tokens: Any) -> int:
        room = self.context_length - n_prompt
        return check_int(max_new_tokens, "max_new_tokens", owner=self.name, minimum=1,
                         maximum=min(room, MAX_NEW_TOKENS))

    def generate(self, prompt: str, *, max_new_tokens: int | None = None, chat: bool = False,
                 do_sample: bool = False, temperature: float = 1.0, top_k: int | None = None, seed: int = 0,
                 stop_at_eos: bool = True) -> Generation:
        """Continue ``prompt``: greedily, or by sampling (``do_sample``) from a generator seeded by ``seed``
        (global random state is never touched). Stops at ``max_new_tokens`` or, with ``stop_at_eos``, after
        the end-of-sequence token."""
        ids = self.encode_prompt(prompt, chat=chat)
        n_new = self._check_new_tokens(len(ids), max_new_tokens if max_new_tokens is not None else self.max_new_tokens)
        temperature = check_float(temperature, "temperature", owner="generate", minimum=0.0, exclusive_minimum=True)
        if top_k is not None:
            top_k = check_int(top_k, "top_k", owner="generate", minimum=1)
        seed = check_int(seed, "seed", owner="generate", minimum=0)
        generator = torch.Generator(device=self.device).manual_seed(seed) if do_sample else None
        eos = self.tokenizer.eos_token_id
        out, log_probs = list(ids), []
        past = None
        step_ids = torch.tensor([ids], device=self.device)
        with torch.inference_mode():
            for _ in range(n_new):
                result = self.model(input_ids=step_ids, **{self._cache_name: past}, use_cache=True, logits_to_keep=1)
                past = getattr(result, self._cache_name)
                logp = torch.log_softmax(result.logits[0, -1].double(), dim=-1)
                if do_sample:
                    scores = logp / temperature
                    if top_k is not None and top_k < scores.shape[0]:
                        kth = scores.topk(top_k).values[-1]
                        scores = scores.masked_fill(scores < kth, -torch.inf)
                    token = int(torch.multinomial(torch.softmax(scores, -1).float(), 1, generator=generator))
                else:
                    token = int(logp.argmax())
                out.append(token)
                log_probs.append(float(logp[token]))
                if stop_at_eos and token == eos:
                    break
                step_ids = torch.tensor([[token]], device=self.device)
        return self._generation(prompt, out, len(ids), log_probs, chat)

    def continuation(self, prompt: str, continuation: str, *, chat: bool = False) -> Generation:
        """The Generation of ``prompt`` followed by a given ``continuation`` (tokenized on its own, so that the
        prompt's tokens are those :meth:`generate` would read), scored by teacher forcing."""
        ids = self.encode_prompt(prompt, chat=chat)
        if not isinstance(continuation, str) or not continuation:
            raise InvalidArgumentError(f"The 'continuation' must be a non-empty str. Got {continuation!r}.")
        new = [int(i) for i in self.tokenizer(continuation, add_special_tokens=False)["input_ids"]]
        self._check_new_tokens(len(ids), len(new))
        return self._generation(prompt, ids + new, len(ids), self.score(ids + new, len(ids)).tolist(), chat)

    def _generation(self, prompt: str, ids: list[int], n_prompt: int, log_probs: Sequence[float],
                    chat: bool) -> Generation:
        return Generation(prompt=prompt, ids=tuple(ids), n_prompt=n_prompt,
                          tokens=tuple(self.token_text(i) for i in ids), log_probs=tuple(log_probs), chat=chat)

    def score(self, ids: Sequence[int], n_prompt: int) -> np.ndarray:
        """Teacher-forced log-probabilities (float64) of ``ids[n_prompt:]``, each given the tokens before it."""
        ids_t = torch.tensor([list(ids)], device=self.device)
        positions = torch.arange(n_prompt - 1, len(ids) - 1, device=self.device)
        with torch.inference_mode():
            logits = self.run({"input_ids": ids_t}, positions=positions)[0]  # (G, V)
            logp = torch.log_softmax(logits.double(), dim=-1)
        return logp.gather(1, ids_t[0, n_prompt:, None]).squeeze(1).cpu().numpy()

    def fingerprint(self, example: Generation | str) -> bytes:
        if isinstance(example, Generation):
            return np.asarray(example.ids, dtype=np.int64).tobytes()
        return str(example).encode("utf-8")

    def size(self, example: Any) -> int:
        return len(example.ids) if isinstance(example, Generation) else len(example)

    # -- running the model ----------------------------------------------------------------------------
    def model_inputs(self, rows: Sequence[Generation | np.ndarray | Sequence[int]]) -> dict[str, torch.Tensor]:
        """``input_ids`` and ``attention_mask`` (B, T), right-padded, for Generations or token-id sequences."""
        seqs = [r.ids if isinstance(r, (Generation, SequenceRow)) else r for r in rows]
        width = max(len(s) for s in seqs)
        ids = np.full((len(seqs), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(seqs), width), dtype=np.int64)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = np.asarray(s, dtype=np.int64)
            mask[i, : len(s)] = 1
        return {"input_ids": torch.from_numpy(ids).to(self.device),
                "attention_mask": torch.from_numpy(mask).to(self.device)}

    def run(self, inputs: Mapping[str, torch.Tensor], *, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from ``input_ids`` or ``inputs_embeds`` (and ``attention_mask``): (B, T, V) at every position,
        or with ``positions`` (K,) shared by the rows, or (B, K) per row, (B, K, V) at those positions only (the
        language-model head runs on those alone)."""
        if positions is None:
            return self.model(**inputs).logits
        positions = torch.as_tensor(positions, device=self.device)
        if positions.dim() == 1:
            return self.model(**inputs, logits_to_keep=positions).logits
        keep, inverse = torch.unique(positions, return_inverse=True)  # (U,), (B, K) into keep
        logits = self.model(**inputs, logits_to_keep=keep).logits  # (B, U, V)
        return logits.gather(1, inverse[..., None].expand(-1, -1, logits.shape[-1]))

    def outputs(self, rows: Sequence[Any]) -> torch.Tensor:
        return self.run(self.model_inputs(rows))

    def unembed(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits (..., V) from residual-stream states (..., D): the model's final norm, then its language-model
        head, as the model applies them after its last block (so the last block's output gives the model's own
        logits). The logit lens applies it to every layer's states."""
        base = self.model.base_model
        norm = next((getattr(base, name) for name in ("norm", "ln_f", "final_layernorm", "final_layer_norm")
                     if isinstance(getattr(base, name, None), nn.Module)), None)
        if norm is None:
            raise UnsupportedModelError(f"{self.name!r} ({type(self.model).__name__}) has no final norm that lumos "
                                        "knows (norm, ln_f, final_layernorm, final_layer_norm on its base model), "
                                        "so its hidden states cannot be read out as logits.")
        logits = self.model.get_output_embeddings()(norm(hidden))
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        return logits if not cap else torch.tanh(logits / cap) * cap

    def outputs_at(self, rows: Sequence[Any], positions: Any) -> torch.Tensor:
        positions = torch.as_tensor(np.asarray(positions) if not isinstance(positions, torch.Tensor) else positions,
                                    dtype=torch.long, device=self.device)
        if positions.dim() == 1:
            positions = positions[:, None]  # one position per row
        lengths = torch.tensor([len(r.ids) if isinstance(r, (Generation, SequenceRow)) else len(r) for r in rows],
                               device=self.device)
        positions = positions % lengths[:, None]  # negative positions count from each row's end
        return self.run(self.model_inputs(rows), positions=positions)

    # -- gradient path --------------------------------------------------------------------------------
    def encode(self, examples: Sequence[Generation]) -> Encoded:
        """Embeddings (B, T, D) of whole sequences; every token is a feature (a source)."""
        inputs = self.model_inputs(examples)
        with torch.no_grad():
            x = self.embeddings(inputs["input_ids"]).detach()
        features = []
        for g in examples:
            word_index, words = g.words()
            features.append(FeatureInfo(labels=g.tokens, positions=tuple(range(len(g.ids))), text=g.text,
                                        words=words, word_index=word_index))
        return Encoded(x=x, extras={"attention_mask": inputs["attention_mask"]},
                       feature_mask=inputs["attention_mask"].bool(), features=features)

    def forward(self, x: torch.Tensor, extras: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits from embeddings ``x`` (B, T, D): (B, T, V), or (B, K, V) at ``extras["positions"]`` (B, K)."""
        return self.run({"inputs_embeds": x, "attention_mask": extras["attention_mask"]},
                        positions=extras.get("positions"))

    def baseline(self, encoded: Encoded, kind: str) -> torch.Tensor:
        check_choice(kind, "baseline", self.baseline_kinds)
        if kind == "zero":
            fill = torch.zeros_like(encoded.x[0, 0])
        else:
            token_id = {"pad": self.tokenizer.pad_token_id, "eos": self.tokenizer.eos_token_id,
                        "unk": self.tokenizer.unk_token_id}[kind]
            if token_id is None:
                raise InvalidArgumentError(f"The tokenizer of {self.name!r} has no {kind} token; use "
                                           "baseline='zero' or another kind.")
            with torch.no_grad():
                fill = self.embeddings(torch.tensor([token_id], device=self.device))[0].detach()
        mask = encoded.feature_mask.unsqueeze(-1)
        return torch.where(mask, fill.to(encoded.x.dtype), encoded.x)

    def default_masker(self) -> PromptMasker:
        """Hide the prompt's words by deleting their tokens (ablation, as ContextCite does)."""
        return PromptMasker(self.tokenizer)


def load_causal_lm(path: str | Path, **kwargs: Any) -> CausalLMAdapter:
    """Load a causal language model saved with ``save_pretrained`` in a local directory (never from a hub),
    with eager attention so that attention weights can be returned."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="eager", local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"Could not load a causal language model from {str(path)!r}: {exc}") from exc
    adapter = CausalLMAdapter(model, tokenizer, name=kwargs.pop("name", path.name), **kwargs)
    adapter.card = {"source": str(path.resolve())}
    return adapter
