"""Sweeps beyond one run at a time: `--jobs N` here, Ray, Slurm through submitit, and a sweep's
state from its run folders (`lfm sweep --status`).

The slow tests share one sequential sweep of a two-point mfeat grid (`reference`) and run the
same plan with each executor, each interrupted mid-way (Ctrl-C, a lost Ray worker, a Slurm
preemption) and resumed: every run must end with exactly the sequential run's numbers."""
from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lfm_tui import compare, executors, sweep
from lfm_tui import plan as plans
from lfm_tui.cli import app
from lfm_tui.executors import resources
from lfm_tui.executors.ray_cluster import problem_of
from lfm_tui.executors.slurm import SlurmExecutor, parse_time, settings
from lfm_tui.sweep_status import STALE_S, SweepStatus

from test_cli_run import ENV, LFM, lfm

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "runs" / "mfeat" / "20261127-092227-0" / "events.jsonl"
BASE = ["train.epochs=8", "train.threads=1", "data.batch_size=16",   # 8 x ~90 steps: time to interrupt
        "review.gap_samples=0"]   # no end-of-run review (the runs are compared by their numbers)
GRID = ["method.name=concat,lfm"]
POINTS = tuple(plans.folder_name({"method.name": m}) for m in ("concat", "lfm"))   # the grid points' folders


# ---------------------------------------------------------------------------- without the engine

def test_slots_share_the_cpus_and_give_each_run_its_own_gpus() -> None:
    a, b = resources.slots(2, None, None, cpus=8, gpus=["0", "1", "2", "3"])
    assert (a.threads, a.gpus, b.threads, b.gpus) == (4, ("0", "1"), 4, ("2", "3"))
    assert a.env() == {"CUDA_VISIBLE_DEVICES": "0,1"} and b.where() == "slot 2, GPU 2,3"
    assert [s.gpus for s in resources.slots(3, 2, 1, cpus=8, gpus=["0", "1", "2", "3"])] == [("0",), ("1",), ("2",)]
    cpu_only = resources.slots(2, None, 0, cpus=3, gpus=["0"])
    assert [(s.threads, s.env()) for s in cpu_only] == [(1, {"CUDA_VISIBLE_DEVICES": ""})] * 2
    assert [(s.threads, s.gpus) for s in resources.slots(1, None, None, cpus=8, gpus=["0"])] == [(0, None)]
    assert resources.slots(2, None, None, cpus=2, gpus=[])[0].gpus is None
    with pytest.raises(ValueError, match="--jobs 3 with 2 GPU"):
        resources.slots(3, None, None, cpus=8, gpus=["0", "1"])
    with pytest.raises(ValueError, match=r"needs 4 GPU\(s\); 2 visible"):
        resources.slots(2, None, 2, cpus=8, gpus=["0", "1"])
    assert resources.visible_gpus({"CUDA_VISIBLE_DEVICES": "1, 3"}) == ["1", "3"]
    assert resources.visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert resources.visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []


def test_tasks_take_the_thread_share_only_where_the_recipe_leaves_it(tiny_mfeat: Path, tmp_path: Path) -> None:
    plan = plans.validated(tiny_mfeat, [], [("train.threads", ["0", "3"])], [0])
    assert [p.threads for p in plan] == [0, 3]
    free, fixed = sweep.tasks(tmp_path, tmp_path / "base-recipe.toml", ["name=x"], plan, threads=2)
    assert "train.threads=2" in free.args and free.extra_env()["OMP_NUM_THREADS"] == "2"
    assert "train.threads=2" not in fixed.args and fixed.args[-2:] == ["--run-dir", fixed.run_dir]
    assert [t.label for t in (free, fixed)] == ["train.threads=0 seed 0", "train.threads=3 seed 0"]
    (none,) = sweep.tasks(tmp_path, tmp_path / "b.toml", [], plan[:1], threads=0)
    assert "train.threads=2" not in none.args and none.extra_env() == {}


def test_a_task_decides_from_its_run_folder_when_it_starts(tmp_path: Path) -> None:
    (t,) = sweep.tasks(tmp_path, tmp_path / "b.toml", [], [plans.Point({}, 0, "")])
    run = Path(t.run_dir)
    assert t.engine_args() == t.args                       # new
    run.mkdir()
    (run / "events.jsonl").write_text("")
    assert t.engine_args() == t.args and not run.exists()  # partial: set aside, then new
    assert len(list(tmp_path.glob("seed-0.partial-*"))) == 1
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"x")
    (run / "recipe.toml").write_text("")
    assert t.engine_args() == ["--resume", t.run_dir]     # a checkpoint: resume
    (run / "summary.json").write_text(json.dumps({"status": "ok"}))
    assert t.engine_args() is None                         # finished: skipped


def test_slurm_settings_from_the_table_and_the_command_line() -> None:
    assert [parse_time(v) for v in (90, "90", "1:30:00", "1-02:30", "0:00:30")] == [90, 90, 90, 1590, 1]
    table = {"partition": "cpu", "time": "2:00:00", "qos": "high", "setup": ["module load cuda"],
             "additional": {"exclusive": True}, "cpus_per_run": 8}
    p = settings(table, {"partition": "gpu", "time": "", "account": "lab", "mem_gb": None}, None, 1)
    assert p == {"slurm_partition": "gpu", "timeout_min": 120, "slurm_qos": "high", "slurm_setup": ["module load cuda"],
                 "slurm_additional_parameters": {"exclusive": True}, "cpus_per_task": 8, "gpus_per_node": 1,
                 "slurm_account": "lab"}
    with pytest.raises(executors.OptionsError) as err:
        settings({"partiton": "gpu", "time": "soon", "mem_gb": -1}, {}, None, None)
    assert err.value.problems == [
        "sweep.slurm.partiton: unknown key (did you mean 'partition'?); known: " + ", ".join(
            ["partition", "time", "account", "mem_gb", "cpus_per_run", "gpus_per_run", "qos", "constraint",
             "setup", "additional"]),
        "sweep.slurm.time: time limit 'soon': expected minutes (90) or [D-]HH:MM[:SS] (1-12:00:00)",
        "sweep.slurm.mem_gb: expected a number of GB > 0, found -1"]


def test_the_shared_folder_check_names_the_nodes_that_cannot_see_it() -> None:
    nodes = [{"NodeManagerAddress": "10.0.0.1"}, {"NodeManagerAddress": "10.0.0.2"}]
    assert problem_of(Path("/data/sw"), nodes, [(True, "a"), (True, "b")]) == ""
    msg = problem_of(Path("/data/sw"), nodes, [(True, "a"), (False, "b")])
    assert msg.startswith("/data/sw: not visible from Ray node(s) 10.0.0.2 (b).") and "--out" in msg


@pytest.mark.parametrize("args,message", [
    (["--address", "10.0.0.1:6379"], "--address is the Ray cluster to join: give it with --executor ray"),
    (["--partition", "gpu", "--time", "60"], "--partition is a Slurm setting"),
    (["--jobs", "2", "--events"], "--events prints one engine's event stream"),
    (["--executor", "kube"], "--executor 'kube': expected one of local, ray, slurm"),
    (["--jobs", "2", "--gpus-per-run", "1"], "--jobs 2 x --gpus-per-run 1 needs 2 GPU(s); none visible"),
    pytest.param(["--executor", "slurm"], "--executor slurm submits with sbatch and srun, which are not on PATH",
                 marks=pytest.mark.skipif(importlib.util.find_spec("submitit") is None, reason="needs submitit")),
    (["--executor", "slurm", "--time", "tomorrow"], "sweep.slurm.time: time limit 'tomorrow'"),
])
def test_bad_executor_options_stop_the_sweep_before_anything_is_written(tiny_mfeat: Path, tmp_path: Path,
                                                                       args: list[str], message: str) -> None:
    env = {**ENV, "CUDA_VISIBLE_DEVICES": "", "PATH": os.path.dirname(sys.executable)}
    res = subprocess.run(LFM + ["sweep", str(tiny_mfeat), "--grid", "method.name=concat,lfm", *args,
                                "--out", str(tmp_path / "sw")], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=120)
    assert res.returncode == 2 and message in res.stderr, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "sw").exists()


def test_without_ray_or_submitit_the_executor_says_what_to_install(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)        # `import ray` fails as where it is absent
    monkeypatch.setitem(sys.modules, "submitit", None)
    with pytest.raises(executors.OptionsError, match=r"--executor ray needs Ray: pip install 'lfm-console\[cluster\]'"):
        executors.make(executors.Options(executor="ray")).prepare(tmp_path / "sw")
    with pytest.raises(executors.OptionsError, match=r"--executor slurm needs submitit: pip install"):
        executors.make(executors.Options(executor="slurm")).prepare(tmp_path / "sw")
    assert not (tmp_path / "sw").exists()


def test_a_recipe_with_a_sweep_table_loads_and_runs_without_it(tiny_mfeat: Path) -> None:
    text = tiny_mfeat.read_text() + '\n[sweep.slurm]\npartition = "gpu"\ntime = 90\n'
    tiny_mfeat.write_text(text)
    from engine.contract import recipe as recipes
    assert recipes.load(tiny_mfeat).train.epochs == 2 and "sweep" not in recipes.dumps(recipes.load(tiny_mfeat))
    assert executors.slurm_table(tiny_mfeat) == {"partition": "gpu", "time": 90}


def test_compare_groups_runs_that_differ_only_in_their_thread_share(tmp_path: Path) -> None:
    """--jobs and the cluster executors write the CPU share into train.threads: the same
    configuration run by different executors is one row of the table."""
    for seed, threads in ((0, 0), (1, 2), (2, 1)):
        run = tmp_path / f"run-{seed}"
        run.mkdir()
        (run / "recipe.toml").write_text(f'name = "toy"\n[data]\nname = "mfeat"\nmodalities = ["pix", "mor"]\n'
                                         f'[method]\nname = "concat"\n[train]\nseed = {seed}\nthreads = {threads}\n')
        (run / "events.jsonl").write_text("")
        (run / "summary.json").write_text(json.dumps({"status": "ok", "test": {"acc": 90.0 + seed}}))
    (row,) = compare.compare([tmp_path])[0]
    assert (row.label, row.seeds, row.stat("acc")[0]) == ("concat", [0, 1, 2], 91.0)


# ---------------------------------------------------------------------------- status from run folders

def fake_sweep(folder: Path, recipe: Path) -> dict[str, Path]:
    """A 2 x 2 sweep folder whose runs are the recorded mfeat run at four stages: finished,
    running (cut after epoch 3, step 16), stalled (cut in epoch 2, silent for hours), queued."""
    sweep.create(folder, recipe, [], [("method.name", ["concat", "lfm"])], [0, 1], ["lfm", "sweep"])
    lines = FIXTURE.read_text().splitlines()
    runs = {"ok": folder / POINTS[0] / "seed-0", "running": folder / POINTS[1] / "seed-0",
            "stalled": folder / POINTS[0] / "seed-1", "queued": folder / POINTS[1] / "seed-1"}
    for state, cut in (("ok", None), ("running", 21), ("stalled", 12)):
        runs[state].mkdir(parents=True)
        (runs[state] / "events.jsonl").write_text("\n".join(lines[:cut]) + "\n")
    old = time.time() - 2 * STALE_S
    os.utime(runs["stalled"] / "events.jsonl", (old, old))
    return runs


def test_sweep_status_reads_every_run_from_its_folder(tiny_mfeat: Path, tmp_path: Path) -> None:
    runs = fake_sweep(tmp_path / "sw", tiny_mfeat)
    status = SweepStatus(tmp_path / "sw")
    rows = status.refresh()
    assert [(r.label, r.status) for r in rows] == [
        ("method.name=concat seed 0", "ok"), ("method.name=lfm seed 0", "running"),
        ("method.name=concat seed 1", "stalled"), ("method.name=lfm seed 1", "queued")]
    ok, running, stalled, queued = (r.progress for r in rows)
    assert (ok.progress, round(ok.best_acc, 2), ok.test_acc) == (1.0, 96.33, 98.0)
    assert (running.epoch, running.step, running.progress, round(running.best_acc, 2)) == (3, 16, 60 / 88, 93.33)
    assert (stalled.progress, stalled.best_acc, queued.epochs) == (36 / 88, 80.0, 0)

    # what the event file gains is read incrementally: the running run finishes
    rest = FIXTURE.read_text().splitlines()[21:]
    with open(runs["running"] / "events.jsonl", "a") as fh:
        fh.write("\n".join(rest) + "\n")
    offset_before = status.probes[1].tail.offset
    again = status.refresh()[1]
    assert again.status == "ok" and again.progress.test_acc == 98.0 and again.progress.starts == 1
    assert status.probes[1].tail.offset > offset_before

    res = CliRunner().invoke(app, ["sweep", "--status", str(tmp_path / "sw")], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    assert "2 ok, 1 stalled, 1 queued" in res.output and "96.33" in res.output and "41%" in res.output
    bad = CliRunner().invoke(app, ["sweep", "--status", str(tmp_path)])
    assert bad.exit_code == 2 and "not a sweep folder" in bad.output


# ---------------------------------------------------------------------------- the engine, each executor

def summaries(folder: Path) -> dict[str, dict]:
    out = {}
    for point in POINTS:
        s = json.loads((folder / point / "seed-0" / "summary.json").read_text())
        out[point] = {"status": s["status"], "best": s["best"], "test": s["test"]}
    return out


def starts(run: Path) -> list:
    return [json.loads(l).get("resumed_from") for l in (run / "events.jsonl").read_text().splitlines()
            if '"run_started"' in l]


def engine_of(run_dir: Path) -> tuple[int, int] | None:
    """(pid, parent pid) of the engine process writing `run_dir`, from /proc."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if b"engine" in cmd and any(str(run_dir).encode() == c for c in cmd):
            return int(pid), int(stat.rsplit(")", 1)[1].split()[1])
    return None


def when_checkpointed(run_dir: Path, act, timeout: float = 240) -> dict:
    """On a thread: once `run_dir` has its first checkpoint and an engine, `act(pid, ppid)`."""
    done: dict = {}

    def watch() -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = engine_of(run_dir) if (run_dir / "checkpoints" / "last.pt").is_file() else None
            if found:
                act(*found)
                done["pids"] = found
                return
            time.sleep(0.02)
    threading.Thread(target=watch, daemon=True).start()
    return done


@pytest.fixture(scope="module")
def reference_sweep(tmp_path_factory) -> Path:
    """The plan run one after another (the default executor)."""
    folder = tmp_path_factory.mktemp("ref") / "sw"
    out = io.StringIO()
    code = sweep.start(folder, ROOT / "recipes" / "mfeat.toml", BASE, GRID, "0", [], False, Console(file=out, width=120))
    assert code == 0, out.getvalue()[-3000:]
    return folder


@pytest.fixture(scope="module")
def reference(reference_sweep: Path) -> dict[str, dict]:
    return summaries(reference_sweep)


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds engine processes in /proc")


@pytest.mark.slow
def test_jobs_2_stopped_by_ctrl_c_and_resumed_equals_the_sequential_sweep(reference, reference_sweep: Path,
                                                                           tmp_path: Path) -> None:
    sw = tmp_path / "sw"
    cmd = LFM + ["sweep", str(ROOT / "recipes" / "mfeat.toml"), *BASE, "--grid", *GRID, "--jobs", "2", "--out", str(sw)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 240
    while time.time() < deadline and not all((sw / p / "seed-0" / "checkpoints" / "last.pt").is_file() for p in POINTS):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)   # Ctrl-C while both run
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "2 runs into" in out and "2 at a time (1 CPU thread(s) each)" in out
    assert f"lfm sweep --resume {sw}" in out.replace("\n", "")
    for p in POINTS:   # every run stopped with a checkpoint
        run = sw / p / "seed-0"
        assert json.loads((run / "summary.json").read_text())["status"] == "cancelled"
        assert (run / "checkpoints" / "last.pt").is_file()
    first = [json.loads((sw / p / "seed-0" / "events.jsonl").read_text().splitlines()[0])["time"] for p in POINTS]
    assert abs(first[0] - first[1]) < 5.0   # the two ran at once

    res = lfm(["sweep", "--resume", str(sw), "--jobs", "2"], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("resumed from its checkpoint") == 2
    assert [len(starts(sw / p / "seed-0")) for p in POINTS] == [2, 2]
    assert summaries(sw) == reference   # run by run, the sequential sweep's numbers exactly
    # the run folders read the same: the comparison table and the late-fusion ensemble
    rows = [[(r.label, r.seeds, r.stat(k)) for k in ("acc", "map", "f1")] for r in compare.compare([sw])[0]]
    assert rows == [[(r.label, r.seeds, r.stat(k)) for k in ("acc", "map", "f1")]
                    for r in compare.compare([reference_sweep])[0]]
    ens = [lfm(["ensemble", *(str(f / p) for p in POINTS), "--json"], tmp_path) for f in (sw, reference_sweep)]
    assert ens[0].returncode == 0, ens[0].stderr
    same = [json.loads(e.stdout.replace(str(f), "SWEEP")) for e, f in zip(ens, (sw, reference_sweep))]
    assert same[0] == same[1] and same[0]["ensemble"]["acc"]["mean"] > 90


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    except Exception as exc:  # noqa: BLE001  (whatever keeps Ray from starting here)
        pytest.skip(f"Ray cannot start here: {exc}")
    yield ray
    ray.shutdown()


@pytest.mark.ray
@pytest.mark.slow
@needs_proc
def test_ray_runs_the_plan_and_resumes_a_run_whose_worker_was_lost(reference, local_ray, tmp_path: Path) -> None:
    assert [n["NodeManagerHostname"] for n in local_ray.nodes() if n["Alive"]] == [socket.gethostname()]  # this machine
    sw = tmp_path / "sw"
    lost = sw / POINTS[1] / "seed-0"
    killed = when_checkpointed(lost, lambda pid, ppid: os.kill(ppid, signal.SIGKILL))  # the Ray worker
    out = io.StringIO()
    code = sweep.start(sw, ROOT / "recipes" / "mfeat.toml", BASE, GRID, "0", [], False, Console(file=out, width=200),
                       executors.Options(executor="ray"))
    text = out.getvalue()
    assert code == 0, text
    assert "Ray tasks of 1 CPU(s), up to 2 at a time on 1 node(s)" in text
    assert killed and "[2/2] method.name=lfm seed 0: its worker was lost (WorkerCrashedError)" in text
    assert [s is not None for s in starts(lost)] == [False, True] and starts(lost)[1]["epoch"] >= 2
    assert not list(sw.glob(".lfm-shared-*"))
    assert summaries(sw) == reference
    # the live view's numbers came back through the event stream
    test_acc = reference[POINTS[0]]["test"]["acc"]
    assert f"✓ [1/2] method.name=concat seed 0: ok, test ACC {test_acc:.2f}" in text


@pytest.mark.ray
@pytest.mark.slow
def test_ctrl_c_stops_every_ray_task_with_a_checkpoint_and_resume_finishes_them(reference, local_ray,
                                                                                 tmp_path: Path) -> None:
    sw = tmp_path / "sw"

    def interrupt() -> None:   # Ctrl-C once both runs have a checkpoint
        deadline = time.time() + 240
        while time.time() < deadline:
            if all((sw / p / "seed-0" / "checkpoints" / "last.pt").is_file() for p in POINTS):
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.02)
    threading.Thread(target=interrupt, daemon=True).start()
    out = io.StringIO()
    code = sweep.start(sw, ROOT / "recipes" / "mfeat.toml", BASE, GRID, "0", [], False, Console(file=out, width=200),
                       executors.Options(executor="ray"))
    assert code == 130, out.getvalue()
    assert [json.loads((sw / p / "seed-0" / "summary.json").read_text())["status"] for p in POINTS] == \
        ["cancelled", "cancelled"]
    out = io.StringIO()
    assert sweep.run(sw, False, Console(file=out, width=200), executors.Options(executor="ray")) == 0, out.getvalue()
    assert out.getvalue().count("resumed from its checkpoint") == 2
    assert summaries(sw) == reference


@pytest.mark.slow
@needs_proc
def test_slurm_array_through_submitit_requeues_a_preempted_run_from_its_checkpoint(reference, tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    sw = tmp_path / "sw"
    preempted = sw / POINTS[1] / "seed-0"
    signalled = when_checkpointed(preempted, lambda pid, ppid: os.kill(ppid, signal.SIGUSR2))  # as Slurm does
    options = executors.Options(executor="slurm", cpus_per_run=1)
    ex = SlurmExecutor(options, {"time": 30}, cluster="local")   # submitit's local executor
    ex.watch_s = 0.5
    out = io.StringIO()
    code = sweep.start(sw, ROOT / "recipes" / "mfeat.toml", BASE, GRID, "0", [], False, Console(file=out, width=200),
                       options, executor=ex)
    assert code == 0, out.getvalue()
    assert signalled and "submitted job array" in out.getvalue()
    assert [s is not None for s in starts(preempted)] == [False, True]
    logs = "".join(p.read_text() for p in sorted((sw / "slurm").rglob("*_log.*")))
    assert "Calling checkpoint method" in logs and "Requeued job" in logs
    assert summaries(sw) == reference


def test_the_sbatch_script_asks_for_the_resources(tiny_mfeat: Path, tmp_path: Path) -> None:
    pytest.importorskip("submitit")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {tmp_path}/submitted.sh\necho "Submitted batch job 4242"\n')
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    tiny_mfeat.write_text(tiny_mfeat.read_text() + '\n[sweep.slurm]\npartition = "cpu"\nqos = "high"\n'
                          'setup = ["source ~/venv/bin/activate"]\n')
    env = {**ENV, "PATH": f"{bin_dir}:{ENV['PATH']}"}
    sw = tmp_path / "sw"
    res = subprocess.run(LFM + ["sweep", str(tiny_mfeat), "--grid", "method.name=concat,lfm", "--seeds", "0,1",
                                "--executor", "slurm", "--partition", "gpu", "--time", "1:30:00", "--account", "lab",
                                "--mem", "16", "--cpus-per-run", "4", "--gpus-per-run", "1", "--jobs", "2",
                                "--detach", "--out", str(sw)], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "submitted job array 4242: 4 task(s)" in res.stdout and "scancel 4242" in res.stdout
    script = (tmp_path / "submitted.sh").read_text().splitlines()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=90", "#SBATCH --account=lab", "#SBATCH --mem=16GB",
                 "#SBATCH --cpus-per-task=4", "#SBATCH --gpus-per-node=1", "#SBATCH --array=0-3%2",
                 "#SBATCH --qos=high", "#SBATCH --signal=USR2@90", "#SBATCH --job-name=lfm-tiny_mfeat",
                 "source ~/venv/bin/activate"):
        assert line in script, "\n".join(script)
    assert len(list((sw / "slurm").rglob("*_submitted.pkl"))) == 4
    status = CliRunner().invoke(app, ["sweep", "--status", str(sw)], env={"COLUMNS": "160"})
    assert status.exit_code == 0 and "4 queued" in status.output

    # sbatch refusing the array: its message, exit status 2
    (bin_dir / "sbatch").write_text('#!/bin/sh\necho "sbatch: error: invalid partition specified: nope" >&2\nexit 1\n')
    res = subprocess.run(LFM + ["sweep", "--resume", str(sw), "--executor", "slurm", "--partition", "nope",
                                "--detach"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2 and "the job array was not submitted: sbatch: error: invalid partition specified: nope" \
        in res.stderr, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
