"""The house rules of gadlib's imports (issue: no hidden circles, one room per concern).

- The import graph of gadlib's modules, every `import` statement counted wherever it stands
  (a function-local import hides a cycle from a reader, not from this test), has no cycle.
- No gadlib module imports another gadlib module or a required library inside a function;
  only optional heavy dependencies may be imported there (OPTIONAL below), each with a comment.
- Every module imports in a fresh interpreter, one after another in dependency order (a module
  that fails to import, or whose imports only resolve out of that order, fails here).
- No module is longer than MAX_LINES: a module is read in one sitting.
"""
import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gadlib"
MAX_LINES = 500
# May be imported inside a function: optional heavy dependencies that most users of the module
# never need (PyAV decodes videos only for feature extraction; Playwright drives a browser only
# in tests/test_browser.py). Everything else is imported at the top of its module.
OPTIONAL = {"av", "playwright"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(node: ast.ImportFrom, importer: str, is_package: bool) -> str | None:
    """The gadlib module an ImportFrom reads from (None for other packages)."""
    if node.level:
        base = importer.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        return ".".join(base + ([node.module] if node.module else []))
    return node.module if node.module and node.module.split(".")[0] == "gadlib" else None


def import_graph() -> tuple[dict[str, set[str]], list[str]]:
    """(module -> gadlib modules it imports, [function-local imports that break the rules])."""
    mods = modules()
    graph, local = {}, []
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        deps = set()
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        inside = {id(n) for f in functions for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _target(node, name, path.name == "__init__.py")
                found = []
                if target is not None:
                    # `from gadlib import oad` / `from . import ex01` name modules, not attributes
                    found = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in mods] or [target]
                deps.update(t for t in found if t in mods and t != name)
                top = (target or node.module or "").split(".")[0]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names if a.name.split(".")[0] == "gadlib"]
                deps.update(t for t in found if t in mods)
                top = node.names[0].name.split(".")[0]
            else:
                continue
            if id(node) in inside and top not in OPTIONAL:
                local.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {ast.unparse(node)}")
        graph[name] = deps
    return graph, local


def test_the_graph_finds_a_hidden_cycle(tmp_path, monkeypatch):
    """The checker itself: a function-local import that closes a circle is found."""
    pkg = tmp_path / "gadlib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import g\n")
    (pkg / "b.py").write_text("def g():\n    from gadlib.a import x\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    graph, local = import_graph()
    assert graph["gadlib.a"] == {"gadlib.b"} and graph["gadlib.b"] == {"gadlib.a"}
    assert local == ["gadlib/b.py:2: from gadlib.a import x"]
    with pytest.raises(CycleError):
        tuple(TopologicalSorter(graph).static_order())


def test_no_import_cycle():
    graph, _ = import_graph()
    try:
        order = tuple(TopologicalSorter(graph).static_order())
    except CycleError as e:
        pytest.fail(f"gadlib has an import cycle: {' -> '.join(e.args[1])}")
    assert set(order) == set(graph)


def test_no_function_local_imports():
    _, local = import_graph()
    assert not local, ("imports inside functions (move them to the module's top, or add an optional "
                       "dependency to OPTIONAL with a reason):\n" + "\n".join(local))


def test_every_module_imports_alone_in_dependency_order():
    graph, _ = import_graph()
    order = [m for m in TopologicalSorter(graph).static_order()]
    # One fresh interpreter per module would take a minute; one interpreter importing them in
    # dependency order checks the same thing: each module finds everything it needs already
    # importable, with nothing imported first by accident.
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    done = subprocess.run([sys.executable, "-c", code, *order], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_no_module_is_too_long():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"gadlib modules over {MAX_LINES} lines (split them by concern): {long}"
