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
            "or m in ('engine.trainer', 'engine.run', 'engine.models', 'engine.data'))\n"
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
    figures' (lfm_plot never imports torch), the standard-library-only contract modules, and the
    engine's layers."""
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is part of the test extra: pip install -e '.[test]'"
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([exe, "--config", str(root / "pyproject.toml")], cwd=root, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    with open(root / "pyproject.toml", "rb") as fh:
        contracts = tomllib.load(fh)["tool"]["importlinter"]["contracts"]
    assert any(c["source_modules"] == ["lfm_plot"] and "torch" in c["forbidden_modules"] for c in contracts
               if c["type"] == "forbidden")
    assert f"{len(contracts)} kept, 0 broken" in res.stdout, res.stdout
