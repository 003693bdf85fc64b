"""The house rules of gadlib's imports (issue: no hidden circles, one room per concern).

- The import graph of gadlib's modules, every `import` statement counted wherever it stands
  (a function-local import hides a cycle from a reader, not from this test), has no cycle.
- No gadlib module imports another gadlib module or a required library inside a function;
  only optional heavy dependencies may be imported there (OPTIONAL below), each with a comment.
- Every module imports in a fresh interpreter, one after another in dependency order (a module
  that fails to import, or whose imports only resolve out of that order, fails here).
- No module is longer than MAX_LINES: a module is read in one sitting.
- The folders are layers (LAYERS, lowest first): a module imports only modules of its own layer
  or a lower one, so the thin core (gadlib/core) imports nothing else of gadlib. The modules at the
  top level are the commands (`python -m gadlib.X`): they may import any layer, and no layer
  imports them.
- The core stays thin: at most CORE_LINES lines; no function in it over CORE_FUNCTION_LINES (one
  screen, as the anchors' longest), no class over CORE_CLASS_LINES (short methods).
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
LAYERS = ("core", "data", "lms", "evaluation", "lessons", "tools")
CORE_LINES = 2300
CORE_FUNCTION_LINES = 80
CORE_CLASS_LINES = 140


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


def layer(module: str) -> int:
    """The layer of a gadlib module: its index in LAYERS; len(LAYERS) for a command (top level)."""
    parts = module.split(".")
    if len(parts) == 1:
        return -1  # the package itself (gadlib/__init__.py): imports nothing of gadlib
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else len(LAYERS)


def test_every_module_is_in_a_layer_or_a_command():
    for name, path in modules().items():
        parts = name.split(".")
        if len(parts) > 2:
            assert parts[1] in LAYERS, f"{path}: a subpackage that is not a layer ({LAYERS})"
        elif len(parts) == 2 and parts[1] not in LAYERS:
            assert "def " not in path.read_text(), f"{path}: a top-level module is a command shim, with no code"


def test_imports_run_down_the_layers():
    graph, _ = import_graph()
    wrong = [f"{m} ({LAYERS[layer(m)] if 0 <= layer(m) < len(LAYERS) else 'command'}) imports {d}"
             for m, deps in graph.items() for d in deps if layer(d) > layer(m) or (layer(d) == len(LAYERS) and layer(m) < len(LAYERS))]
    assert not wrong, "imports that run up the layers:\n" + "\n".join(sorted(wrong))


def test_the_layer_rule_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a core module that imports a data module is reported."""
    pkg = tmp_path / "gadlib"
    for sub in ("core", "data"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "a.py").write_text("from gadlib.data.b import x\n")
    (pkg / "data" / "b.py").write_text("x = 1\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    with pytest.raises(AssertionError, match="gadlib.core.a .core. imports gadlib.data.b"):
        test_imports_run_down_the_layers()


def test_the_core_is_thin():
    core = {name: path for name, path in modules().items() if name.startswith("gadlib.core")}
    lines = sum(len(p.read_text().splitlines()) for p in core.values())
    assert lines <= CORE_LINES, f"gadlib/core has {lines} lines (> {CORE_LINES}): move what serves it out"
    units = [(p.name, n) for p in core.values() for n in ast.walk(ast.parse(p.read_text()))
             if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    long = [f"{file}: {n.name} ({n.end_lineno - n.lineno + 1} lines)" for file, n in units
            if n.end_lineno - n.lineno + 1 > (CORE_CLASS_LINES if isinstance(n, ast.ClassDef) else CORE_FUNCTION_LINES)]
    assert not long, f"units of gadlib/core over {CORE_FUNCTION_LINES} (function) / {CORE_CLASS_LINES} (class) lines: {long}"
