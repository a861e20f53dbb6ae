"""The package's layering: no import cycle between subpackages (imports inside functions count; only those
under ``if TYPE_CHECKING:`` do not), nothing outside ``models/`` reaches into an adapter's private parts,
and capabilities are read from the adapter's declarations, not guessed with ``hasattr``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import lumos

ROOT = Path(lumos.__file__).parent


def _modules() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        out.append((path, ".".join(rel.parts).removesuffix(".__init__")))
    return out


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "lumos" and len(parts) > 1 else None


def _imports(path: Path, module: str) -> set[str]:
    """Every lumos module ``path`` imports, at any depth of the file, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for sub in node.body for n in ast.walk(sub))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            if base == "lumos":  # `from lumos import zoo` imports the subpackage zoo
                found.update(f"lumos.{a.name}" for a in node.names)
    return found


def subpackage_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path, module in _modules():
        src = _unit(module)
        if src is None:
            continue
        for target in _imports(path, module):
            dst = _unit(target)
            if dst and dst != src:
                graph.setdefault(src, set()).add(dst)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_cycle_finder_finds_a_planted_cycle():
    """The checker itself: it finds a cycle through a function-local import and ignores TYPE_CHECKING ones."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    source = "def f():\n    from ..zoo import load\nif TYPE_CHECKING:\n    from ..report import x\n"
    path = ROOT / "models" / "_planted_for_test.py"
    try:
        path.write_text(source)
        found = _imports(path, "lumos.models._planted_for_test")
    finally:
        path.unlink()
    assert "lumos.zoo" in found and "lumos.report" not in found


def test_no_import_cycle_between_subpackages():
    """Dependencies point one way: models, maskers and engine at the bottom, report and cli on top."""
    graph = subpackage_graph()
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"
    for low in ("engine", "maskers", "models", "readout", "errors", "imaging"):
        assert not graph.get(low, set()) & {"report", "cli", "metrics", "attribution", "zoo", "compression"}, low


def test_no_private_adapter_use_outside_models():
    """No module outside models/ calls an adapter's private methods (they have public ones: model_inputs,
    run, predict, sites ...)."""
    bad = []
    for path, _ in _modules():
        if path.relative_to(ROOT).parts[0] == "models":
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\b(adapter|student|teacher)\._[a-z]\w*|\._(pad|call)\(", line):
                bad.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)


def test_capabilities_are_declared_not_guessed():
    """Outside models/, hasattr is not used to ask what a model can do (a handful of genuine duck-typing
    checks may stay)."""
    hits = [f"{path.relative_to(ROOT)}:{i}" for path, _ in _modules()
            if path.relative_to(ROOT).parts[0] != "models"
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(r"\bhasattr\(", line)]
    assert len(hits) <= 5, hits
