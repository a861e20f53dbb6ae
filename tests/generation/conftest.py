"""Small causal language models built in the test (random weights, a byte-level BPE tokenizer trained on a few
sentences), so that known answers and the causal mask can be checked in milliseconds."""

from __future__ import annotations

import pytest
import torch

import lumos

CORPUS = [
    "the cat sat on the mat. the dog sat on the log.",
    "a quick brown fox jumps over the lazy dog. The capital of France is Paris.",
    "we explain every generated token; the model writes one word at a time.",
    "Alice gave Bob a book because she had read it twice.",
] * 20


@pytest.fixture(scope="session")
def bpe_tokenizer():
    """A fast byte-level BPE tokenizer (as GPT-2, Llama 3 and SmolLM use) trained on CORPUS."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|endoftext|>", "<pad>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<pad>")


def _llama(vocab: int) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=96,
                         attn_implementation="eager", eos_token_id=0, bos_token_id=0, pad_token_id=1)
    return LlamaForCausalLM(config).eval()


def _gpt2(vocab: int) -> torch.nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(1)
    config = GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=4, n_positions=96,
                        attn_implementation="eager", bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="session", params=["llama", "gpt2"])
def tiny_lm(request, bpe_tokenizer):
    """A tiny random Llama-style or GPT-2-style causal LM as a lumos adapter."""
    build = {"llama": _llama, "gpt2": _gpt2}[request.param]
    return lumos.as_adapter(build(len(bpe_tokenizer)), tokenizer=bpe_tokenizer, name=f"tiny-{request.param}")


@pytest.fixture(scope="session")
def tiny_llama(bpe_tokenizer):
    return lumos.as_adapter(_llama(len(bpe_tokenizer)), tokenizer=bpe_tokenizer, name="tiny-llama")


@pytest.fixture(scope="session")
def generation(tiny_lm):
    """A 9-word prompt continued greedily for 6 tokens."""
    return tiny_lm.generate("The capital of France is Paris and the cat sat", max_new_tokens=6, stop_at_eos=False)
