"""The notebooks in examples/ run from top to bottom on this environment's kernel, offline, and show lumos's
inline views (HTML and matplotlib figures)."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("name", ["regression.ipynb"])
def test_notebook_runs(name):
    """Every cell runs without error; explanations render as HTML and plots as PNG images."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    # kernel "python3" is ipykernel in this very environment (its native kernel spec), so nothing is fetched.
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(EXAMPLES.parent)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any('class="lumos-explanation"' in h for h in html)
    assert any('class="lumos-explanation-set"' in h for h in html)
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
