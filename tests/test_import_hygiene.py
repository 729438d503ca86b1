"""The UI never imports torch: `lfm --help` and every lfm_tui module start without it; the
import contracts of pyproject.toml ([tool.importlinter]) hold."""
from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import lfm_tui

MODULES = sorted(m.name for m in pkgutil.walk_packages(lfm_tui.__path__, "lfm_tui."))


def test_ui_modules_do_not_import_torch() -> None:
    code = ("import importlib, sys\n"
            f"for m in {MODULES!r}: importlib.import_module(m)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'numpy') "
            "or m in ('engine.training.trainer', 'engine.run', 'engine.models', 'engine.data'))\n"
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert len(MODULES) >= 4
    assert "lfm_tui.app" in MODULES and "lfm_tui.widgets.loss_chart" in MODULES


def test_lfm_help_does_not_import_torch() -> None:
    code = ("import sys\nfrom lfm_tui.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "run" in res.stdout and "validate" in res.stdout


def test_import_contracts_hold() -> None:
    """import-linter over the contracts in pyproject.toml: the UI's forbidden imports, the
    figures' (lfm_plot never imports torch), the standard-library-only contract modules, the
    engine's layers and the UI's layers."""
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is part of the test extra: pip install -e '.[test]'"
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([exe, "--config", str(root / "pyproject.toml")], cwd=root, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    with open(root / "pyproject.toml", "rb") as fh:
        contracts = tomllib.load(fh)["tool"]["importlinter"]["contracts"]
    assert any(c["source_modules"] == ["lfm_plot"] and "torch" in c["forbidden_modules"] for c in contracts
               if c["type"] == "forbidden")
    ui = next(c["layers"] for c in contracts if c["type"] == "layers" and c["layers"][0] == "lfm_tui.launch")
    # the sweep loop above the executors, the executors above the plan they are given as tasks
    assert ui.index("lfm_tui.follow | lfm_tui.sweep") < ui.index("lfm_tui.executors") \
        < next(i for i, layer in enumerate(ui) if layer.startswith("lfm_tui.plan |"))
    assert f"{len(contracts)} kept, 0 broken" in res.stdout, res.stdout


def _imports(path: Path, package: str, modules: set[str]) -> set[str]:
    """The modules of `modules` a module imports (at its top or inside functions): `from pkg
    import name` is pkg.name where that is a module, else pkg. Imports under `if TYPE_CHECKING:`
    are left out, as import-linter leaves them out (annotations only)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:   # relative: from the module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            out.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    return out & modules


def import_graph(root: Path, top: str) -> dict[str, set[str]]:
    """Module -> the modules of `top` it imports, from the source alone (ast): no import runs."""
    files = {}
    for path in sorted((root / top).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        files[".".join(parts)] = path
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = _imports(path, package, set(files)) - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle_of_three() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_the_ui() -> None:
    """No lfm_tui module imports, even inside a function, a module that imports it back
    (directly or through others): each module can be read, tested and moved on its own."""
    root = Path(__file__).resolve().parents[1]
    graph = import_graph(root, "lfm_tui")
    assert len(graph) >= 40 and "lfm_tui.executors.local" in graph and "lfm_tui.sweep" in graph
    assert "lfm_tui.sweep_status" in graph["lfm_tui.widgets.sweep_grid"]
    assert cycles(graph) == []
