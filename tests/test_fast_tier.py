"""The fast tier (`python -m pytest -m "not slow"`) still reaches every module of the console.

A static check of the test files, read with `ast` (collecting the tests would take longer than
the check is worth). A test file is *fast* when at least one of its tests is not marked slow.
Two properties:

- every module that some test file imports by name is imported by name by a fast test file:
  marking tests slow never leaves a module without its own fast tests;
- every module of engine/, lfm_tui/ and lfm_plot/ is loaded by some fast test file: reached from
  its imports (and the processes it starts: `-m engine`, `from lfm_tui.cli import main`) through
  the package's own imports, including the registries' "module:Class" names, which are imported
  by name when a run needs them.

Both are about loading, not about what the tests assert: they keep a module from silently
dropping out of the fast tier, and say nothing about how well it is tested there."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "lfm_tui", "lfm_plot")
TESTS = ROOT / "tests"
FROM_IMPORT = re.compile(r"\bfrom ([\w.]+) import\b")


def package_modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return mods


MODULES = package_modules()


def named_modules(tree: ast.AST, here: str | None = None, with_strings: bool = False) -> set[str]:
    """The package modules `tree` imports (`from a import b` names a.b where that is a module),
    and with `with_strings`, those its string constants name: "a.b", "a.b:Class", "from a.b import"."""
    found: set[str] = set()

    def add(name: str) -> None:
        if name in MODULES:
            found.add(name)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and here:
                package = here.split(".")[: len(here.split(".")) - node.level + (MODULES[here].name == "__init__.py")]
                base = ".".join(package + ([base] if base else []))
            add(base)
            for alias in node.names:
                add(f"{base}.{alias.name}")
        elif with_strings and isinstance(node, (ast.List, ast.Tuple)):  # [python, "-m", "engine", ...]
            words = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            for flag, name in zip(words, words[1:]):
                if flag == "-m" and isinstance(name, str):
                    add(name)
                    add(f"{name}.__main__")
        elif with_strings and isinstance(node, ast.Constant) and isinstance(node.value, str):
            add(node.value.split(":")[0])
            for name in FROM_IMPORT.findall(node.value):
                add(name)
    return found


def package_graph() -> dict[str, set[str]]:
    return {m: named_modules(ast.parse(p.read_text()), m, with_strings=True) for m, p in MODULES.items()}


def reach(roots: set[str], graph: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            parts = m.split(".")
            todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # a module loads its packages
            todo += graph[m]
    return seen


def is_slow_mark(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "slow" and "mark" in ast.unparse(node)


def has_fast_test(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            if any(is_slow_mark(n) for n in ast.walk(node.value)):
                return False
    tests = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
             and n.name.startswith("test")]
    return any(not any(is_slow_mark(d) for d in t.decorator_list) for t in tests)


def read_test_files() -> dict[str, tuple[bool, set[str], set[str]]]:
    """Each test file: (whether it has a fast test, the modules it imports, the modules it loads:
    its imports, those of the test helpers it imports, and the processes it starts)."""
    helpers = {p.stem: ast.parse(p.read_text()) for p in TESTS.rglob("*.py") if not p.name.startswith("test_")}
    out = {}
    for path in sorted(TESTS.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        imported = named_modules(tree)
        loaded = named_modules(tree, with_strings=True)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in helpers:
                loaded |= named_modules(helpers[node.module], with_strings=True)
        out[path.name] = (has_fast_test(tree), imported, loaded)
    return out


def test_the_static_reading_sees_slow_marks_and_imports() -> None:
    slow = ast.parse("import pytest\npytestmark = pytest.mark.slow\ndef test_a(): pass\n")
    mixed = ast.parse("import pytest\n@pytest.mark.slow\ndef test_a(): pass\ndef test_b(): pass\n")
    only_slow = ast.parse("import pytest\n@pytest.mark.slow\ndef test_a(): pass\n")
    assert not has_fast_test(slow) and has_fast_test(mixed) and not has_fast_test(only_slow)
    code = ast.parse("from engine.contract import recipe\nx = ['-m', 'engine', 'from lfm_plot.figures import f']\n")
    assert named_modules(code) == {"engine.contract", "engine.contract.recipe"}
    assert named_modules(code, with_strings=True) == {"engine.contract", "engine", "engine.__main__",
                                                       "engine.contract.recipe", "lfm_plot.figures"}
    relative = ast.parse("from .base import Step\n")
    assert named_modules(relative, "engine.methods.agm") == {"engine.methods.base"}
    assert named_modules(relative, "engine.methods") == {"engine.methods.base"}


def test_every_module_a_test_imports_is_imported_by_a_fast_test() -> None:
    files = read_test_files()
    imported = set().union(*(f[1] for f in files.values()))
    fast = set().union(*(f[1] for f in files.values() if f[0]))
    assert sorted(imported - fast) == []


def test_every_module_is_loaded_by_the_fast_tier() -> None:
    graph = package_graph()
    loaded = reach(set().union(*(f[2] for f in read_test_files().values() if f[0])), graph)
    assert sorted(set(MODULES) - loaded) == []
