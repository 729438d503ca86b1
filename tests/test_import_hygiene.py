"""The UI never imports torch: `lfm --help` and every lfm_tui module start without it."""
from __future__ import annotations

import pkgutil
import subprocess
import sys

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
