from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"

# Under xdist (`-n auto`: one worker per core) each worker, and every engine it starts, computes
# on one thread, so the workers never fight over a core; set before torch is first imported.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")


def run_engine(args: list[str], cwd: Path, timeout: float = 300, env: dict | None = None
               ) -> subprocess.CompletedProcess:
    """`python -m engine ARGS` in cwd, as subprocess.run returns it: a child forked from this
    test process's pre-started engine (tests/engine_zygote.py), or a fresh interpreter where the
    environment changes what Python itself reads at start (PYTHON*) or LFM_TEST_NO_ZYGOTE is set."""
    full = {**os.environ, **(env or {})}
    zygote = None if any(k.startswith("PYTHON") for k in env or {}) else _zygote()
    if zygote is None:
        return subprocess.run([sys.executable, "-m", "engine", *args], cwd=cwd, capture_output=True,
                              text=True, timeout=timeout, env=full)
    return zygote.run(args, cwd, full, timeout)


_ZYGOTE: list = []


def _zygote():
    """This process's engine zygote, started on first use and stopped at exit; None when off."""
    if os.environ.get("LFM_TEST_NO_ZYGOTE"):
        return None
    if not _ZYGOTE:
        import atexit
        import shutil
        import tempfile

        from engine_zygote import Zygote

        folder = Path(tempfile.mkdtemp(prefix="lfm-zygote-"))
        _ZYGOTE.append(Zygote(folder))
        atexit.register(lambda: (_ZYGOTE[0].close(), shutil.rmtree(folder, ignore_errors=True)))
    return _ZYGOTE[0]


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def only_run_dir(runs: Path) -> Path:
    dirs = [p.parent for p in runs.rglob("recipe.toml")]
    assert len(dirs) == 1, dirs
    return dirs[0]


def train_in_process(run_dir: Path, recipe=None, resume_state: dict | None = None,
                     stop_after: int | None = None) -> tuple[int, dict]:
    """Trains in this process through the engine's own lifecycle (engine.run.EngineRun): a new
    run of `recipe` into run_dir, or run_dir resumed (when `resume_state` is given, the state
    the run folder holds); a stop is requested while epoch `stop_after` is evaluated. Returns
    the exit code and summary.json."""
    from engine.run import EngineRun

    run_dir.mkdir(parents=True, exist_ok=True)
    if resume_state is None:
        run = EngineRun(recipe, run_dir=run_dir)
    else:
        run = EngineRun(resume=run_dir)
    run.setup()
    if stop_after:
        from engine.training.callbacks import RunCallback

        class StopAfter(RunCallback):
            def on_eval(self, ev) -> None:
                if ev.epoch == stop_after:
                    run.trainer.stop_requested = True

        run.report.callbacks.append(StopAfter())
    try:
        code = run.finish(run.train())
    finally:
        run.cleanup()
    return code, json.loads((run_dir / "summary.json").read_text())


def stopped_and_resumed(tmp_path: Path, overrides: list[str]) -> tuple[dict, dict]:
    """(summary of an uninterrupted 3-epoch mfeat run, summary of the same run stopped while
    epoch 1 is evaluated and resumed from its checkpoint), both in process."""
    from engine.contract import recipe as recipes
    from engine.run import check_run_dir

    def go(run_dir: Path, resume=None, stop_after=None):
        r = recipes.load(RECIPES / "mfeat.toml", ["train.epochs=3", "train.threads=1", *overrides])
        return train_in_process(run_dir, r, resume, stop_after)

    code, full = go(tmp_path / "full")
    assert code == 0
    assert go(tmp_path / "cut", stop_after=1)[0] == 130
    _, state = check_run_dir(tmp_path / "cut")
    code, resumed = go(tmp_path / "cut", resume=state)
    assert code == 0
    return full, resumed


# A two-epoch mfeat recipe, one thread, small batches: seconds to run. Without the modality-gap
# review (its projection and figure at the end of a run): tests/test_review.py trains for it.
TINY_MFEAT = ((RECIPES / "mfeat.toml").read_text().replace("epochs = 30", "epochs = 2\nthreads = 1\nlog_every = 5")
              + "\n[review]\ngap_samples = 0\n")


@pytest.fixture
def tiny_mfeat(tmp_path: Path) -> Path:
    """TINY_MFEAT as tmp_path/tiny_mfeat.toml."""
    p = tmp_path / "tiny_mfeat.toml"
    p.write_text(TINY_MFEAT)
    return p
