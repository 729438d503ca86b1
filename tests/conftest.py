from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"


def run_engine(args: list[str], cwd: Path, timeout: float = 300, env: dict | None = None
               ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def only_run_dir(runs: Path) -> Path:
    dirs = [p.parent for p in runs.rglob("recipe.toml")]
    assert len(dirs) == 1, dirs
    return dirs[0]


@pytest.fixture
def tiny_mfeat(tmp_path: Path) -> Path:
    """A two-epoch mfeat recipe, one thread, small batches: seconds to run."""
    text = (RECIPES / "mfeat.toml").read_text()
    p = tmp_path / "tiny_mfeat.toml"
    p.write_text(text.replace("epochs = 30", "epochs = 2\nthreads = 1\nlog_every = 5"))
    return p
