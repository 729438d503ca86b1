"""Files read back are bounded before they are parsed (engine/contract/untrusted.py): sweeps are counted
before they are listed, a checkpoint or predictions.npz that would inflate is refused before it
is loaded, a checkpoint's counters are checked, nesting and NaN never surface as a traceback;
a read-only folder, an early Ctrl-C and a diverged run are one message each."""
from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import RECIPES, run_engine, train_in_process
from test_cli_run import ENV, LFM

NESTED = "[" * 100_000 + "]" * 100_000
MEMORY_CAP = 3 * 1024 ** 3  # address space of an `lfm` that must not expand a huge plan


def cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def lfm(args: list[str], cwd: Path, timeout: float = 120, capped: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(LFM + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV,
                          preexec_fn=cap_memory if capped else None)


def no_traceback(res: subprocess.CompletedProcess) -> bool:
    return "Traceback" not in res.stdout + res.stderr and "Error:" not in res.stderr.replace("error:", "")


# ---------------------------------------------------------------------- sweeps, counted first

def test_a_billion_seeds_are_refused_before_any_is_listed(tmp_path: Path) -> None:
    started = time.perf_counter()
    res = lfm(["sweep", str(RECIPES / "mfeat.toml"), "--seeds", "0-999999999", "--out", str(tmp_path / "s")],
              tmp_path, capped=True)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "1000000000 seeds, more than the 10000 runs a sweep may hold" in res.stderr
    assert no_traceback(res) and not (tmp_path / "s").exists() and time.perf_counter() - started < 60


def test_a_grid_of_a_million_points_is_refused_with_its_count(tmp_path: Path) -> None:
    axis = ",".join(str(i) for i in range(100))
    res = lfm(["sweep", str(RECIPES / "mfeat.toml"), "--grid", f"optim.lr={axis}", "--grid",
               f"optim.weight_decay={axis}", "--grid", f"loss.temperature={axis}", "--seeds", "0,1",
               "--out", str(tmp_path / "s")], tmp_path, capped=True)
    assert res.returncode == 2
    assert "the sweep holds 2000000 runs (100 x 100 x 100 x 2 seeds), more than the 10000" in res.stderr


def test_a_small_sweep_json_of_a_huge_grid_is_refused_at_once(tmp_path: Path) -> None:
    """30 KB of sweep.json naming a 100 x 100 x 100 grid: `lfm sweep --status` and the sweep
    screen's reader refuse it in a moment, with the count, instead of listing a million runs."""
    from lfm_tui import plan as plans
    from lfm_tui.sweep_status import SweepStatus

    axis = [str(i) for i in range(100)]
    plan = {"name": "x", "overrides": [], "grid": [["a", axis], ["b", axis], ["c", axis]], "seeds": [0]}
    (tmp_path / "sweep.json").write_text(json.dumps(plan))
    started = time.perf_counter()
    with pytest.raises(plans.SweepError, match="1000000 runs .* more than the 10000"):
        SweepStatus(tmp_path)
    assert time.perf_counter() - started < 1.0
    res = lfm(["sweep", "--status", str(tmp_path)], tmp_path, capped=True)
    assert res.returncode == 2 and "1000000 runs" in res.stderr and no_traceback(res)


# ---------------------------------------------------------------------- checkpoints

@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """A two-epoch mfeat run stopped after epoch 1: last.pt to continue from (epoch 2, step 0)."""
    from engine.contract import recipe as recipes
    run = tmp_path_factory.mktemp("stopped") / "run"
    r = recipes.load(RECIPES / "mfeat.toml", ["train.epochs=2", "train.threads=1", "train.log_every=5"])
    code, _ = train_in_process(run, r, stop_after=1)
    assert code == 130
    return run


def damaged_copy(stopped_run: Path, tmp_path: Path, **changes) -> Path:
    import torch

    from engine.training import checkpoint as ckpt
    run = tmp_path / "run"
    shutil.copytree(stopped_run, run)
    last = run / "checkpoints" / "last.pt"
    state = torch.load(last, map_location="cpu", weights_only=True)
    state.update(changes)
    ckpt.save({k: v for k, v in state.items() if k != "format"}, last)
    return run


@pytest.mark.parametrize("changes, why", [
    ({"epoch": -5}, "epoch is -5, not an epoch of this run's 1 .. 3"),
    ({"epoch": 10 ** 12}, "epoch is 1000000000000, not an epoch of this run's 1 .. 3"),
    ({"best_epoch": 7}, "best_epoch is 7, not an epoch before 2"),
    ({"global_step": -1}, "global_step is -1, not a count of steps"),
    ({"step_in_epoch": True}, "step_in_epoch is True, not a count of steps"),
])
def test_a_checkpoint_with_counters_of_no_run_is_bad_input(stopped_run: Path, tmp_path: Path, changes, why) -> None:
    run = damaged_copy(stopped_run, tmp_path, **changes)
    res = run_engine(["--resume", str(run)], tmp_path)
    assert res.returncode == 2, res.stderr[-2000:]
    assert why in res.stderr and "Traceback" not in res.stderr


def test_a_checkpoint_whose_steps_are_not_this_runs_is_bad_input(stopped_run: Path, tmp_path: Path) -> None:
    run = damaged_copy(stopped_run, tmp_path, step_in_epoch=10 ** 9)
    res = run_engine(["--resume", str(run)], tmp_path)
    assert res.returncode == 2 and "step_in_epoch 1000000000" in res.stderr and "Traceback" not in res.stderr


def test_a_checkpoint_that_would_inflate_is_refused_before_it_is_loaded(stopped_run: Path, tmp_path: Path) -> None:
    """last.pt with its members deflated and a 128 MiB tensor of zeros added: a file of a few
    hundred KiB declaring 128 MiB more than it holds. Refused from the zip directory alone."""
    import torch

    run = damaged_copy(stopped_run, tmp_path, padding=torch.zeros(32 * 1024 ** 2))
    last = run / "checkpoints" / "last.pt"
    packed = last.with_name("packed.pt")
    with zipfile.ZipFile(last) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    packed.replace(last)
    assert last.stat().st_size < 4 * 1024 ** 2
    res = run_engine(["--resume", str(run)], tmp_path)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "uncompressed" in res.stderr and "refused before loading" in res.stderr and "Traceback" not in res.stderr


# ---------------------------------------------------------------------- predictions.npz

def npy_member(shape: tuple, payload: bytes, dtype: str = "<f8") -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


def two_runs(tmp_path: Path, write) -> list[Path]:
    runs = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        write(d / "predictions.npz")
        runs.append(d)
    return runs


def refused_within(runs: list[Path], limit_bytes: int) -> str:
    from engine.ensemble import ensemble
    from engine.contract.errors import UserError

    tracemalloc.start()
    try:
        with pytest.raises(UserError) as info:
            ensemble(runs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit_bytes, f"{peak} bytes allocated before the refusal"
    return str(info.value)


def test_predictions_whose_header_claims_a_huge_array_are_refused_unallocated(tmp_path: Path) -> None:
    def write(path: Path) -> None:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("fused.npy", npy_member((200_000_000,), b"\0" * 256))
    why = refused_within(two_runs(tmp_path, write), 50 * 1024 ** 2)
    assert "fused.npy declares an array of shape (200000000,)" in why


def test_predictions_that_inflate_past_the_limit_are_refused_unallocated(tmp_path: Path) -> None:
    from engine.ensemble import MAX_PREDICTIONS_BYTES

    packed = tmp_path / "inflating.npz"  # 640 MiB of zeros, deflated to well under 1 MiB; made once, copied
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z, \
            z.open("fused.npy", "w", force_zip64=True) as fh:
        fh.write(npy_member((80 * 1024 ** 2,), b""))
        chunk = bytes(8 * 1024 ** 2)
        for _ in range(80):
            fh.write(chunk)
    runs = two_runs(tmp_path, lambda path: shutil.copy(packed, path))
    assert (runs[0] / "predictions.npz").stat().st_size < 2 * 1024 ** 2
    why = refused_within(runs, 50 * 1024 ** 2)
    assert f"more than the {MAX_PREDICTIONS_BYTES // 1024 ** 2} MiB" in why


def test_predictions_of_python_objects_are_refused_without_numpys_advice(tmp_path: Path) -> None:
    why = refused_within(two_runs(tmp_path, lambda p: np.savez(p, fused=np.array([{"a": 1}], dtype=object))),
                         50 * 1024 ** 2)
    assert "holds Python objects, which are never loaded" in why and "allow_pickle" not in why


# ---------------------------------------------------------------------- nesting and NaN on the command line

def finished_run(runs: Path, name: str, acc: float, seed: int = 0) -> Path:
    """A finished run folder: the recorded mfeat events, its recipe (seed `seed`), a summary."""
    from tests.tui_helpers import FIXTURE

    run = runs / name
    run.mkdir(parents=True)
    shutil.copy(FIXTURE, run / "events.jsonl")
    (run / "recipe.toml").write_text((RECIPES / "mfeat.toml").read_text() + f"\n# {name}\n")
    (run / "summary.json").write_text(json.dumps({"status": "ok", "seed": seed, "test": {"acc": acc}}))
    return run


def test_nested_and_non_finite_files_are_unreadable_runs_not_tracebacks(tmp_path: Path) -> None:
    """events.jsonl with a line nested 100000 deep, summary.json nested or holding NaN, an
    events.jsonl that is a folder: `lfm compare` lists them as unreadable, `lfm plot` plots
    the good run or says why in one line, `lfm sweep --status` shows them."""
    runs = tmp_path / "runs"
    runs.mkdir()
    good = finished_run(runs, "good", 91.0)
    nested_events = finished_run(runs, "nested-events", 80.0)
    with open(nested_events / "events.jsonl", "a") as fh:
        fh.write(NESTED + "\n")
    nested_summary = finished_run(runs, "nested-summary", 70.0)
    (nested_summary / "summary.json").write_text('{"status": "ok", "test": ' + NESTED + "}")
    nan_summary = finished_run(runs, "nan-summary", 60.0)
    (nan_summary / "summary.json").write_text('{"status": "ok", "seed": 1, "test": {"acc": NaN, "f1": Infinity}}')

    res = lfm(["compare", str(runs)], tmp_path)
    assert res.returncode == 0 and no_traceback(res), res.stdout + res.stderr
    assert res.stdout.count("unreadable") == 2 and "85.50" in res.stdout  # good and nested-events: one row
    flat = " ".join(res.stdout.split())
    assert "summary.json: nested deeper than 64 levels" in flat and "summary.json: holds NaN" in flat

    res = lfm(["plot", str(good), str(nested_events), "--out", str(tmp_path / "fig")], tmp_path)
    assert res.returncode == 0 and no_traceback(res), res.stdout + res.stderr
    res = lfm(["plot", str(runs), "--out", str(tmp_path / "fig2")], tmp_path)
    assert res.returncode in (0, 2) and no_traceback(res), res.stdout + res.stderr

    folder = finished_run(runs, "folder-events", 50.0)
    (folder / "events.jsonl").unlink()
    (folder / "events.jsonl").mkdir()
    res = lfm(["plot", str(folder), "--out", str(tmp_path / "fig3")], tmp_path)
    assert res.returncode == 2 and "not a run folder" in res.stderr and no_traceback(res)


def test_sweep_status_of_nested_files(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({"name": "x", "overrides": [], "grid": [], "seeds": [0, 1, 2]}))
    for seed, events in ((0, NESTED + "\n"), (1, None)):
        run = sweep / f"seed-{seed}"
        run.mkdir()
        if events is None:
            (run / "events.jsonl").mkdir()
        else:
            (run / "events.jsonl").write_text(events)
    res = lfm(["sweep", "--status", str(sweep)], tmp_path)
    assert no_traceback(res) and res.returncode in (0, 1), res.stdout + res.stderr
    assert "unreadable" in res.stdout and "queued" in res.stdout

    (sweep / "sweep.json").write_text('{"name": "x", "overrides": ' + NESTED + ', "grid": [], "seeds": [0]}')
    res = lfm(["sweep", "--status", str(sweep)], tmp_path)
    assert res.returncode == 2 and "nested deeper than 64 levels" in res.stderr and no_traceback(res)


def test_a_nested_override_or_recipe_is_one_problem(tmp_path: Path) -> None:
    from lfm_tui.catalog import list_recipes

    deep = "[" * 1000 + "1" + "]" * 1000
    res = lfm(["validate", str(RECIPES / "mfeat.toml"), f"alpha.coefficients={deep}"], tmp_path)
    assert res.returncode == 2 and "nested deeper than 64 levels" in res.stderr and no_traceback(res)
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "deep.toml").write_text((RECIPES / "mfeat.toml").read_text() + f"\n[extra]\nx = {deep}\n")
    (folder / "dotted.toml").write_text(".".join(["a"] * 5000) + " = 1\n")
    shutil.copy(RECIPES / "mfeat.toml", folder / "mfeat.toml")
    listed = {r.name: r for r in list_recipes(folder)}
    assert any("nested deeper than 64 levels" in p for p in listed["deep"].problems)
    assert any("nested deeper than 64 levels" in p for p in listed["dotted"].problems)
    assert listed["mfeat"].problems == ()


# ---------------------------------------------------------------------- read-only folders

@pytest.fixture
def read_only(tmp_path: Path):
    """A folder on a tmpfs remounted read-only, holding a finished one-seed sweep."""
    disk = tmp_path / f"ro-{uuid.uuid4().hex[:6]}"
    disk.mkdir()
    import os
    if os.geteuid() != 0 or not shutil.which("mount") or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        (disk / "sweep").mkdir()
        (disk / "sweep" / "sweep.json").write_text(json.dumps({"name": "x", "overrides": [], "grid": [],
                                                               "seeds": [0]}))
        shutil.copy(RECIPES / "mfeat.toml", disk / "sweep" / "base-recipe.toml")
        assert subprocess.run(["mount", "-o", "remount,ro", str(disk)]).returncode == 0
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_read_only_folder_is_one_message_and_exit_2(read_only: Path, tmp_path: Path) -> None:
    recipe = str(RECIPES / "mfeat.toml")
    for args, where in ((["run", recipe, "--seeds", "0", "--runs-dir", str(read_only / "runs")], read_only / "runs"),
                        (["sweep", recipe, "--out", str(read_only / "new")], read_only / "new"),
                        (["sweep", "--resume", str(read_only / "sweep")], read_only / "sweep" / ".lock")):
        res = lfm(args, tmp_path)
        assert res.returncode == 2, res.stdout + res.stderr[-2000:]
        assert f"could not write {where}: Read-only file system; what was already written is intact" in res.stderr
        assert no_traceback(res) and len(res.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------- Ctrl-C while lfm starts

INTERRUPT_AT = """
import importlib.abc, sys
class Interrupt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == {module!r}:
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
from lfm_tui.launch import main
main()
"""


@pytest.mark.parametrize("module, line", [
    ("lfm_tui.cli", "interrupted: nothing was started"),            # while `lfm` itself is imported
    ("lfm_tui.headless", "interrupted: stopped before the run started"),  # while `lfm run` prepares
])
def test_a_ctrl_c_while_lfm_starts_is_one_line_and_130(tmp_path: Path, module: str, line: str) -> None:
    res = subprocess.run([sys.executable, "-c", INTERRUPT_AT.format(module=module), "run",
                          str(RECIPES / "mfeat.toml"), "--runs-dir", str(tmp_path / "runs")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60, env=ENV)
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip() == line and "Aborted" not in res.stdout and not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------- a diverged run

def test_a_diverged_run_fails_with_one_message(tmp_path: Path) -> None:
    res = run_engine([str(RECIPES / "mfeat.toml"), "train.epochs=2", "train.threads=1", "optim.lr=1e12",
                      "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 1
    assert "error: the run diverged: the model's fused outputs on the val split are not finite (NaN or " \
           "infinity) at epoch 1" in res.stderr
    assert "Traceback" not in res.stderr and "Input contains NaN" not in res.stderr


# ---------------------------------------------------------------------- every reader, any hostile JSON

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LIMIT = 4096  # the size limits while the property runs: files past them cost little to make
scalars = st.none() | st.booleans() | st.integers(-10 ** 6, 10 ** 6) | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(alphabet='ab"\\[]{}#\'', max_size=6)
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c,
                                                                                           max_size=3), max_leaves=10)


@st.composite
def hostile_json(draw) -> str:
    """JSON text that no reader may take down: nested past the limit (closed or not, arrays or
    objects), larger than the size limit, holding NaN, infinities or numbers past a float, or
    an ordinary value."""
    kind = draw(st.sampled_from(["nested", "open", "huge", "non-finite", "plain"]))
    if kind in ("nested", "open"):
        depth = draw(st.integers(65, 30_000))
        head, tail = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"v":1,"type":"step","x":[', "]}")]))
        return head * depth + "1" + (tail * depth if kind == "nested" else "")
    if kind == "huge":
        return json.dumps({"status": "ok", "pad": "x" * draw(st.integers(LIMIT, 3 * LIMIT))})
    if kind == "non-finite":
        bad = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]))
        return ('{"status": "ok", "seed": 0, "test": {"acc": %s}, "name": "x", "overrides": [], "grid": [], '
                '"seeds": [%s]}' % (bad, bad))
    return json.dumps(draw(json_values))


def read_everything(folder: Path) -> None:
    """Every reader of a run folder, a sweep folder and a recipe: each returns or says why."""
    from engine.contract import layout
    from engine.contract import folder_lock
    from engine.contract import recipe as recipes
    from engine.contract.events import ProtocolError, parse_line, read_events
    from lfm_plot.series import PlotError, read_curves
    from lfm_tui import compare
    from lfm_tui import history
    from lfm_tui import plan as plans
    from lfm_tui.catalog import read_recipe
    from lfm_tui.sweep_status import SweepStatus

    run = folder / "seed-0"
    for line in (run / "events.jsonl").read_text().splitlines():
        try:
            parse_line(line)
        except ProtocolError:
            pass
    try:
        read_events(str(run / "events.jsonl"))
    except ProtocolError:  # a line of a newer protocol: said, not raised past the reader's caller
        pass
    assert layout.read_summary(run) is None or isinstance(layout.read_summary(run), dict)
    assert isinstance(folder_lock.lock_owner(run), dict)
    info = history.read_run(run)
    assert info is not None and isinstance(info.status, str)
    assert isinstance(compare.load_run(run).status, str)
    try:
        read_curves(run)
    except PlotError:
        pass
    try:
        rows = SweepStatus(folder).refresh()
        assert all(isinstance(r.status, str) for r in rows)
    except plans.SweepError as exc:
        assert str(exc)
    assert isinstance(read_recipe(folder / "r.toml").problems, tuple)
    try:
        recipes.load(RECIPES / "mfeat.toml", [f"alpha.coefficients={(folder / 'value.txt').read_text()}"])
    except recipes.RecipeError as exc:
        assert exc.problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(events=hostile_json(), summary=hostile_json(), plan=hostile_json(), owner=hostile_json(),
       value=hostile_json())
def test_every_reader_takes_hostile_json_without_a_traceback_or_unbounded_memory(events, summary, plan, owner,
                                                                                  value) -> None:
    import tempfile

    from engine.contract import untrusted
    from tests.tui_helpers import FIXTURE

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(untrusted, "MAX_JSON_BYTES", LIMIT)
        mp.setattr(untrusted, "MAX_LINE_BYTES", LIMIT)
        folder = Path(tmp)
        run = folder / "seed-0"
        run.mkdir()
        recorded = FIXTURE.read_text().splitlines()
        (run / "events.jsonl").write_text("\n".join([recorded[0], events, *recorded[1:4], events]) + "\n")
        (run / "summary.json").write_text(summary)
        (run / ".lock.owner").write_text(owner)
        (run / "recipe.toml").write_text(f"name = \"x\"\nvalue = {value}\n")
        (folder / "sweep.json").write_text(plan)
        (folder / "base-recipe.toml").write_text((RECIPES / "mfeat.toml").read_text())
        (folder / "r.toml").write_text(f"x = {value}\n")
        (folder / "value.txt").write_text(value)
        tracemalloc.start()
        try:
            read_everything(folder)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 64 * 1024 ** 2


@given(json_values)
def test_the_nesting_scan_measures_what_the_parser_builds(value) -> None:
    from engine.contract import untrusted
    text = json.dumps(value)
    assert untrusted.nesting(text) == untrusted.depth_of(value) == untrusted.depth_of(json.loads(text))
