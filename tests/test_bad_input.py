"""Bad input, swept as scikit-learn's estimator checks do: every command and public constructor, given a wrong
type, an empty value, NaN/inf, a zero/negative/huge count, an unknown name, a missing or wrong path, a hostile
file or text, answers with one clear error naming the argument (exit code 2 for the CLI) before any work, and
leaves no file behind - never a traceback, a partial file, a silent fallback or a silent cut."""

from __future__ import annotations

import inspect
import math
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import lumos
from lumos.attribution import get_method, method_names
from lumos.cli import main
from lumos.errors import (LARGEST_INT, MAX_EVALS, MAX_STEPS, InvalidArgumentError, LumosError, LumosWarning,
                          check_float, check_int, check_output_path)
from lumos.report.common import card_rows
from lumos.report.plots import isolate

HUGE = str(10**20)


def png_header(width: int, height: int) -> bytes:
    """A valid PNG of ``width`` x ``height`` grey pixels whose data is one compressed row: a decompression bomb
    when large, a few hundred bytes on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1)))
            + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Hostile files: CSVs in latin-1, empty, header only, with a stray comma; an image bomb; not an image."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "latin1.csv").write_bytes("text,label\ncaf\xe9 au lait,positive\n".encode("latin-1"))
    (root / "empty.csv").write_text("")
    (root / "header.csv").write_text("text,label\n")
    (root / "stray.csv").write_text("text,label\nhello,positive\nbye, then,negative\n")
    (root / "long-field.csv").write_text("text,label\n" + "late " * 30_000 + ",negative\n")
    (root / "bomb.png").write_bytes(png_header(30_000, 30_000))
    (root / "not-image.png").write_text("not an image")
    (root / "a-file.txt").write_text("x")
    return root


# Each: the arguments, and a piece of the error that names what was wrong. Every one fails before a model loads.
CLI_CASES = [
    (["explain", "late again", "--n-steps", HUGE], "--n-steps"),
    (["explain", "late again", "--n-steps", "0"], "--n-steps"),
    (["explain", "late again", "--n-steps", "2.5"], "--n-steps"),
    (["explain", "late again", "--method", "lime", "--n-evals", HUGE], "--n-evals"),
    (["explain", "late again", "--method", "lime", "--n-evals", "-3"], "--n-evals"),
    (["explain", "late again", "--method", ""], "'method'"),
    (["explain", "late again", "--method", "no-such-method"], "'method'"),
    (["explain", "late again", "--model", ""], "'model' argument is empty"),
    (["explain", "late again", "--out", "map.png"], "--out"),
    (["explain", "--image", "{files}/bomb.png", "--model", "digits-cnn"], "larger than the"),
    (["explain", "--image", "{files}/not-image.png", "--model", "digits-cnn"], "not an image"),
    (["explain", "--image", "{files}", "--model", "digits-cnn"], "not a file"),
    (["explain", "--image", "{files}/bomb.png", "--model", "digits-cnn", "--out", "{files}"], "a directory"),
    (["explain", "--image", "{files}/bomb.png", "--model", "digits-cnn", "--out", "{out}/map.txt"], ".png"),
    (["explain", "--image", "{files}/bomb.png", "--model", "digits-cnn", "--out", "{files}/a-file.txt/map.png"],
     "is a file, not a folder"),
    (["report", "--quality-n", "-1", "--out", "{out}"], "--quality-n"),
    (["report", "--n", "0", "--out", "{out}"], "--n"),
    (["report", "--methods", "nosuch", "--out", "{out}"], "'method'"),
    (["report", "--methods", ",", "--out", "{out}"], "--methods"),
    (["report", "--compress", "", "--out", "{out}"], "--compress"),
    (["report", "--out", "{files}/a-file.txt"], "existing file"),
    (["report", "--model", "", "--out", "{out}"], "'model' argument is empty"),
    (["evaluate", "--methods", "nosuch"], "'method'"),
    (["evaluate", "--methods", ""], "--methods"),
    (["evaluate", "--n", HUGE], "--n"),
    (["evaluate", "--n-sanity", "-1"], "--n-sanity"),
    (["diagnose", "--top-k", HUGE], "--top-k"),
    (["diagnose", "--model", ""], "'model' argument is empty"),
    (["global", "--n-repeats", "1"], "--n-repeats"),
    (["global", "--max-depth", HUGE], "--max-depth"),
    (["layers", "--cv", "1"], "--cv"),
    (["attention", "late", "--layer", HUGE], "--layer"),
    (["compress", "--specs", "nosuch", "--out", "{out}"], "nosuch"),
    (["compress", "--specs", "prune:0.5", "--methods", "nosuch", "--out", "{out}"], "'method'"),
    (["compress", "--specs", "prune:0.5", "--out", "{files}/a-file.txt"], "existing file"),
    (["compress", "--specs", "prune:0.5", "--hidden-weight", "nan", "--out", "{out}"], "--hidden-weight"),
    (["compress", "--specs", "prune:0.5", "--epochs", "0", "--out", "{out}"], "--epochs"),
    (["generate", "Hi", "--max-new-tokens", HUGE], "--max-new-tokens"),
    (["generate", "Hi", "--seed", "-1"], "--seed"),
    (["generate", "Hi", "--n-steps", HUGE], "--n-steps"),
    (["lens", "Hi", "--k", "0"], "--k"),
    (["lens", "Hi", "--layers", ","], "--layers"),
    (["trace", "Hi", "--n-samples", "0"], "--n-samples"),
    (["retrain", "--model", "tweets-sentiment", "--lr", "inf"], "--lr"),
    (["retrain", "--model", "tweets-sentiment", "--lr", "0"], "--lr"),
    (["retrain", "--model", "tweets-sentiment", "--lambda", "nan"], "--lambda"),
    (["retrain", "--model", "tweets-sentiment", "--out", "{files}/a-file.txt"], "existing file"),
    (["feedback", "export", "{out}/records.txt"], ".jsonl"),
    (["embed", "--tensorboard", "{out}", "--n", "0"], "--n"),
    (["embed", "--tensorboard", "{out}", "--sites", ","], "--sites"),
    (["serve", "--port", "70000"], "--port"),
    (["explain", "--data", "{files}/stray.csv", "--out", "{out}", "--shard-size", "0"], "--shard-size"),
    (["explain", "--data", "{files}/stray.csv", "--out", "{out}", "--num-gpus", "nan"], "--num-gpus"),
    (["explain", "--data", "{files}/stray.csv", "--out", "{out}", "--seed", "-1"], "--seed"),
    (["feedback", "export", "{files}"], "a directory"),
]


@pytest.mark.parametrize("args, named", CLI_CASES, ids=[" ".join(c[0][:4]) for c in CLI_CASES])
def test_cli_refuses_bad_input_with_one_clear_line(args, named, files, tmp_path):
    """A bad argument gives exit code 2 and an error naming it, with no traceback and nothing written."""
    out = tmp_path / "out"
    args = [a.format(files=files, out=out) for a in args]
    before = sorted(p.name for p in files.iterdir())
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)  # not an exception escaping the command
    assert "Traceback" not in result.output
    assert named in result.output, result.output
    assert not out.exists() and sorted(p.name for p in files.iterdir()) == before


@pytest.mark.parametrize("name, named", [
    ("latin1.csv", "not UTF-8 text (byte 0xe9"),
    ("empty.csv", "is empty"),
    ("header.csv", "but no rows"),
    ("stray.csv", "line 3: 3 fields"),
    ("", "'airline-tweets'"),
])
def test_csv_problems_name_the_file_and_line(name, named, files):
    """A CSV file that is not UTF-8, empty, header-only or with a stray comma is refused, naming file and line."""
    from lumos.zoo.data import load_labelled_texts

    with pytest.raises(InvalidArgumentError, match=None) as info:
        load_labelled_texts(str(files / name) if name else "", ("negative", "neutral", "positive"), argument="--data")
    assert named in str(info.value) and "--data" in str(info.value)


def test_a_csv_field_over_128_kb_is_read_whole(files):
    """A text longer than the csv module's default field limit (128 kB) is read, not refused or cut."""
    from lumos.zoo.data import load_labelled_texts

    texts = load_labelled_texts(str(files / "long-field.csv"), ("negative", "neutral", "positive"))
    assert len(texts.texts[0]) == len("late " * 30_000) and texts.labels.tolist() == [0]


def test_counts_and_numbers_are_checked_everywhere():
    """check_int refuses ints beyond 2**31-1 even without a maximum; check_float refuses NaN and infinities."""
    assert check_int(LARGEST_INT, "n") == LARGEST_INT
    for bad in (LARGEST_INT + 1, -LARGEST_INT - 1, 10**20):
        with pytest.raises(InvalidArgumentError, match="'n' parameter"):
            check_int(bad, "n")
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(InvalidArgumentError, match="'x' parameter"):
            check_float(bad, "x")
    assert check_float(1e300, "x") == 1e300


@pytest.mark.parametrize("path, kind, suffixes, named", [
    ("", "file", (), "must be a file path"),
    ("{root}", "file", (), "a directory"),
    ("{root}/x/", "file", (), "a directory"),
    ("{root}/map.jpg", "file", (".png",), "ending in .png"),
    ("{root}/a-file/x.png", "file", (), "is a file, not a folder"),
    ("{root}/a-file", "directory", (), "an existing file"),
])
def test_output_paths_are_checked_before_any_work(path, kind, suffixes, named, tmp_path):
    """An output path that cannot be written as asked is refused up front, naming the argument."""
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(LumosError, match="'out' parameter") as info:
        check_output_path(path.format(root=tmp_path), "out", kind=kind, suffixes=suffixes)
    assert named in str(info.value)


def test_missing_output_folders_are_fine(tmp_path):
    """A path under folders that do not exist yet is accepted (they are created on write) and nothing is made."""
    target = check_output_path(tmp_path / "a" / "b" / "map.png", "out", suffixes=(".png",))
    assert target == tmp_path / "a" / "b" / "map.png" and not (tmp_path / "a").exists()
    assert check_output_path(tmp_path / "new-report", "out", kind="directory") == tmp_path / "new-report"


def _bad_values(default):
    """Values no int or float parameter accepts, by the type of its default."""
    if isinstance(default, bool):
        return []
    if isinstance(default, int):
        return [10**20, "3", 2.5, None if default is not None else []]
    if isinstance(default, float):
        return [math.nan, math.inf, "0.5"]
    return []


def method_cases():
    """(method class, parameter, bad value) for every registered method's numeric parameters."""
    classes = {get_method(name) for name in method_names()}
    for cls in sorted(classes, key=lambda c: c.name):
        for p in inspect.signature(cls.__init__).parameters.values():
            for bad in _bad_values(p.default):
                yield pytest.param(cls, p.name, bad, id=f"{cls.name}-{p.name}-{bad!r}"[:60])


@pytest.fixture(scope="module")
def small_model():
    """A differentiable two-feature classifier, which every method except the attention and Grad-CAM ones runs."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    return lumos.as_adapter(net, class_names=("a", "b"))


@pytest.mark.parametrize("cls, parameter, bad", list(method_cases()))
def test_every_method_refuses_bad_numbers_by_name(cls, parameter, bad, small_model):
    """Every registered method's numeric parameter, given a huge int, a wrong type or NaN/inf, raises a LumosError
    that names the parameter (never an overflow, TypeError or a silently accepted value)."""
    from lumos.attribution.base import PerturbationMethod
    from lumos.maskers import TabularMasker

    settings = {parameter: bad}
    if issubclass(cls, PerturbationMethod):
        settings["masker"] = TabularMasker(np.zeros((3, 4)))
    try:
        cls(small_model, **settings)
    except LumosError as exc:
        if "attention" in str(exc).lower() or "convolution" in str(exc).lower() or "image" in str(exc).lower():
            pytest.skip(f"{cls.name} does not run on this model: {exc}")
        assert parameter in str(exc), str(exc)
    else:
        pytest.fail(f"{cls.name}({parameter}={bad!r}) was accepted")


def test_cost_limits_name_the_limit(small_model):
    """Steps and evaluations beyond the documented ceilings are refused with the ceiling in the message."""
    with pytest.raises(InvalidArgumentError, match=f"<= {MAX_STEPS}"):
        get_method("integrated_gradients")(small_model, n_steps=MAX_STEPS + 1)
    from lumos.maskers import TabularMasker

    with pytest.raises(InvalidArgumentError, match=f"<= {MAX_EVALS}"):
        get_method("kernel_shap")(small_model, n_evals=MAX_EVALS + 1, masker=TabularMasker(np.zeros((3, 4))))


def test_typed_special_tokens_are_text_and_control_characters_are_refused(tweets_model):
    """'[CLS] [SEP]' typed by a user is explained as three words of text; control characters only are refused;
    a text longer than the model reads warns how much is cut."""
    occlusion = get_method("occlusion")(tweets_model)
    explanation = occlusion.attribute("[CLS] [SEP] [PAD]")
    assert explanation.words == ("[CLS]", "[SEP]", "[PAD]") if explanation.words is not None else \
        explanation.features == ("[CLS]", "[SEP]", "[PAD]")
    assert np.count_nonzero(explanation.values) == 3  # each hides real tokens, not a special one kept anyway
    with pytest.raises(InvalidArgumentError, match="nothing the tokenizer keeps"):
        occlusion.attribute("\x01\x02\x03\x7f")
    saliency = get_method("saliency")(tweets_model)
    with pytest.warns(LumosWarning, match=r"has 600 tokens; .* reads 126 .* other 474 are cut"):
        saliency.attribute(" ".join(["late"] * 600))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LumosWarning)
        saliency.attribute("late again")  # a short text: no warning


def test_the_cli_says_what_was_cut():
    """The CLI shows the cut as one 'warning:' line on stderr, not a Python warning with a file name."""
    result = CliRunner().invoke(main, ["explain", " ".join(["late"] * 300), "--method", "saliency"])
    assert result.exit_code == 0, result.output
    assert "warning: The text has 300 tokens" in result.output and "LumosWarning" not in result.output


def test_direction_controls_are_isolated_and_local_paths_hidden():
    """A value holding U+202E is wrapped in a first-strong isolate (it cannot flip the page after it), markup and
    numbers pass unchanged; an absolute model path on the model card shows as its last part."""
    from markupsafe import Markup

    from lumos.report.render import _env

    assert isolate("mal\u202eignant") == "\u2068mal\u202eignant\u2069" and isolate("plain") == "plain"
    assert isolate(Markup("<svg>\u202e</svg>")) == Markup("<svg>\u202e</svg>") and isolate(3) == 3
    page = _env.from_string('<p title="{{ x }}">{{ x }} after</p>').render(x="a\u202e<b>")
    assert page == '<p title="\u2068a\u202e&lt;b&gt;\u2069">\u2068a\u202e&lt;b&gt;\u2069 after</p>'
    rows = dict(card_rows({"name": "m", "source": str(Path("/home/someone/models/my-model").resolve())}))
    assert "/home/someone" not in str(rows) and "my-model" in rows.values()
