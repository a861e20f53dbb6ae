"""Hidden states for TensorBoard's embedding projector: `to_tensorboard` and `lumos embed --tensorboard`, read back
with TensorBoard's own projector config parser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

import lumos
from lumos.cli import main
from lumos.representation import collect, to_tensorboard


def _read(directory: Path) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Each embedding of a projector directory: its tensor and metadata lines, found through the config."""
    config = text_format.Parse((directory / "projector_config.pbtxt").read_text(), ProjectorConfig())
    out = {}
    for emb in config.embeddings:
        tensor = np.loadtxt(directory / emb.tensor_path, delimiter="\t", ndmin=2)
        meta = (directory / emb.metadata_path).read_text(encoding="utf-8").splitlines()
        out[emb.tensor_name.split(":")[0]] = (tensor, meta)
    return out


def test_to_tensorboard_writes_every_site_with_its_metadata(tweets_model, held_out_tweets, tmp_path):
    """Each site's rows land in the projector as written, with a text/label metadata table (tabs and line breaks
    of a text flattened, so that the table keeps one line per point)."""
    texts = list(held_out_tweets[:4])
    texts[0] = "tab\there\nand a new line"
    acts = collect(tweets_model, texts, ["embeddings", "layers.5.output"], progress=False)
    to_tensorboard(acts, tmp_path, metadata={"text": texts, "label": ["a", "b", "c", "d"]})
    read = _read(tmp_path)
    assert set(read) == {"embeddings", "layers.5.output"}
    for site, (tensor, meta) in read.items():
        np.testing.assert_allclose(tensor, acts[site], rtol=1e-6, atol=1e-6)
        assert meta[0] == "text\tlabel" and meta[1] == "tab here and a new line\ta" and len(meta) == 5
    with pytest.raises(lumos.InvalidArgumentError, match="one entry per example"):
        to_tensorboard(acts, tmp_path, metadata={"label": ["a"]})
    with pytest.raises(lumos.InvalidArgumentError, match="collected sites"):
        to_tensorboard(acts, tmp_path, sites=["layers.9.output"])


def test_embed_command_writes_the_projector_directory(tmp_path):
    """`lumos embed --tensorboard DIR` writes one embedding per chosen site for N texts and prints the path."""
    out = tmp_path / "tb"
    result = CliRunner().invoke(main, ["embed", "--n", "6", "--sites", "embeddings,layers.5.output",
                                       "--tensorboard", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    read = _read(out)
    assert set(read) == {"embeddings", "layers.5.output"}
    assert all(t.shape == (6, 384) and len(m) == 7 for t, m in read.values())
    assert read["embeddings"][1][1].split("\t")[1] in ("negative", "neutral", "positive")
