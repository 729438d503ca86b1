"""Output that can be followed in a log file: `lfm run` and `lfm prepare` with stdout a pipe
(lines as they happen, no carriage returns or control codes, nothing cut at 80 columns,
--log-format json, --quiet), and `lfm tensorboard` passing TensorBoard's options on and never
outliving `lfm`."""
from __future__ import annotations

import io
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import layouts as L
from conftest import ROOT, only_run_dir

LFM = [sys.executable, "-c", "from lfm_tui.cli import main; main()"]
FAKE = ROOT / "tests" / "fakes" / "fake_engine.py"
RECORDED = ROOT / "tests" / "fixtures" / "runs" / "mfeat" / "20261127-092227-0" / "events.jsonl"
LINUX = sys.platform.startswith("linux")


def env(**extra: str) -> dict:
    """The environment of a user whose output goes to a file: no COLUMNS, so a console would
    fall back to 80 columns."""
    e = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    return {**e, "PYTHONPATH": str(ROOT), **extra}


def wait_for(predicate, deadline_s: float = 120, what: str = "a condition"):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Lines:
    """Reads a binary pipe line by line in a thread; each line comes with whether the process
    was still running when it was read."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.queue, self.all = proc, queue.Queue(), []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            self.queue.put((raw, self.proc.poll() is None))
        self.queue.put((None, False))

    def until(self, predicate, deadline_s: float = 180) -> tuple[str, bool]:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            try:
                raw, alive = self.queue.get(timeout=1)
            except queue.Empty:
                continue
            if raw is None:
                raise AssertionError("the output ended early:\n" + b"".join(self.all).decode())
            self.all.append(raw)
            if predicate(raw.decode()):
                return raw.decode(), alive
        raise AssertionError("no such line:\n" + b"".join(self.all).decode())

    def rest(self) -> bytes:
        while True:
            raw, _ = self.queue.get(timeout=120)
            if raw is None:
                return b"".join(self.all)
            self.all.append(raw)


# ----------------------------------------------------------------------------- lfm run, piped

def test_piped_run_writes_a_line_per_epoch_while_it_runs(tiny_mfeat: Path, tmp_path: Path) -> None:
    runs = tmp_path / ("runs-of-a-long-folder-name-" + "x" * 60)
    err = (tmp_path / "stderr").open("wb")
    proc = subprocess.Popen(LFM + ["run", str(tiny_mfeat), "train.epochs=200", "--runs-dir", str(runs)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=err,
                            env=env(LFM_PROGRESS_EVERY="0"))
    try:
        lines = Lines(proc)
        first, _ = lines.until(lambda l: l.startswith("run started:"))
        epoch1, alive1 = lines.until(lambda l: l.startswith("epoch 1/200 validation:"))
        epoch2, alive2 = lines.until(lambda l: l.startswith("epoch 2/200 validation:"))
        assert alive1 and alive2  # read while the run goes on, not at its end
        proc.send_signal(signal.SIGINT)  # stop it there: a checkpoint, then exit status 130
        out = lines.rest()
        assert proc.wait(timeout=120) == 130, out.decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        err.close()
    run = only_run_dir(runs)
    assert first.rstrip("\n").endswith(f"run folder {run}") and len(first) > 80
    text = out.decode()
    assert b"\r" not in out and b"\x1b" not in out
    err_bytes = (tmp_path / "stderr").read_bytes()
    assert b"\r" not in err_bytes and b"\x1b" not in err_bytes
    # one validation line per epoch, each after the progress lines of its epoch
    order = [l.split(" ")[1] + (" step" if " step " in l else "") for l in text.splitlines()
             if l.startswith("epoch ") and "/200" in l]
    assert order.count("1/200") == 1 and order.count("2/200") == 1
    assert order.index("1/200 step") < order.index("1/200") < order.index("2/200 step") < order.index("2/200")
    assert "ACC" in epoch1 and "MAP" in epoch1 and "pix ACC" in epoch2 and "mor ACC" in epoch2
    resume = next(l for l in text.splitlines() if l.startswith("resume with "))
    assert resume == f"resume with lfm run --resume {run}" and len(resume) > 80  # whole, not cut at 80
    tb = next(l for l in text.splitlines() if l.startswith("TensorBoard "))
    assert f"lfm tensorboard {run}" in tb


def test_a_run_written_to_a_file_has_exactly_one_line_per_epoch(tiny_mfeat: Path, tmp_path: Path) -> None:
    """`lfm run ... > run.log`: each epoch is one line, its validation with its training summary
    and what the method reports (greedy's d), none of them a line of its own."""
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        code = subprocess.call(LFM + ["run", str(tiny_mfeat), "method.name=greedy", "review.gap_samples=0",
                                      "review.gradcam=false", "--runs-dir", str(tmp_path / "runs")],
                               cwd=tmp_path, stdout=out, stderr=subprocess.DEVNULL, timeout=300,
                               env=env(LFM_PROGRESS_EVERY="600"))
    text = log.read_text()
    assert code == 0, text
    epochs = [l for l in text.splitlines() if l.startswith("epoch ")]
    assert [l.split(" ")[1] for l in epochs] == ["1/2", "2/2"], text
    for n, line in enumerate(epochs, 1):
        assert line.startswith(f"epoch {n}/2 validation: ACC ") and "; train loss " in line
        assert "; greedy d (BDR_0 - BDR_1) " in line and line.rsplit(", ", 1)[1].startswith("elapsed 0:")
        assert re.search(r"; accuracy gap \(val, ACC points\) \d+\.\d\d; loss ", line), line
    assert not any("train loss" in l or "greedy d" in l for l in text.splitlines() if l not in epochs)
    # the test split's gaps, each named with what it was computed on
    assert re.search(r"accuracy gap \(test, ACC points\) +│ +\d+\.\d\d", text), text
    assert re.search(r"^feature gap \(test, encoder features, n=\d+\) \d\.\d{4} ", text, re.M), text
    assert "modality gap" not in text and "modality-gap" not in text


def test_bad_log_format_and_events_with_quiet_exit_2(tiny_mfeat: Path, tmp_path: Path) -> None:
    res = subprocess.run(LFM + ["run", str(tiny_mfeat), "--log-format", "xml"], cwd=tmp_path,
                         capture_output=True, text=True, env=env())
    assert res.returncode == 2 and "--log-format: expected one of auto, live, plain, json, found 'xml'" in res.stderr
    res = subprocess.run(LFM + ["run", str(tiny_mfeat), "--events", "--quiet"], cwd=tmp_path,
                         capture_output=True, text=True, env=env())
    assert res.returncode == 2 and "--events" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
def test_json_log_format_of_a_failing_run_is_json_lines(tiny_mfeat: Path, tmp_path: Path) -> None:
    """A real engine that stops on missing data: every line is a JSON object, the last one
    lfm's result with the exit status and the engine's message."""
    res = subprocess.run(LFM + ["run", str(tiny_mfeat), "data.root=/nonexistent", "--log-format", "json",
                                "--runs-dir", str(tmp_path / "runs")],
                         cwd=tmp_path, capture_output=True, text=True, env=env(), timeout=300)
    assert res.returncode == 2, res.stdout + res.stderr
    objs = [json.loads(l) for l in res.stdout.splitlines()]
    assert objs and all(isinstance(o, dict) for o in objs)
    result = objs[-1]
    assert result["source"] == "lfm" and result["type"] == "result" and result["exit_code"] == 2
    assert "mfeat.npz is missing" in json.dumps(objs)


def _replay(log_format: str, quiet: bool = False) -> str:
    """The recorded mfeat run through a stand-in engine, shown on a console that is not a terminal."""
    from rich.console import Console

    from lfm_tui.headless import run_headless

    buf = io.StringIO()
    code = run_headless([], console=Console(file=buf, width=80), log_format=log_format, quiet=quiet,
                        command=[sys.executable, str(FAKE), "replay", str(RECORDED)])
    assert code == 0
    return buf.getvalue()


def test_json_lines_carry_every_event_and_the_result() -> None:
    out = _replay("json")
    objs = [json.loads(l) for l in out.splitlines()]
    recorded = [json.loads(l) for l in RECORDED.read_text().splitlines()]
    events = [o for o in objs if "v" in o]
    assert [e["seq"] for e in events] == [e["seq"] for e in recorded]  # all of them, in order
    assert {"source": "lfm", "type": "output", "stream": "stdout", "text": "a stray line that is not JSON"} in objs
    assert {"source": "lfm", "type": "output", "stream": "stderr", "text": "engine warming up"} in objs
    result = objs[-1]
    assert result["type"] == "result" and result["exit_code"] == 0 and result["status"] == "ok"
    assert result["tensorboard"].startswith("lfm tensorboard ") and result["resume"] is None


def test_quiet_prints_only_the_result() -> None:
    plain, quiet = _replay("auto"), _replay("auto", quiet=True)
    epochs = sum(1 for l in RECORDED.read_text().splitlines() if '"split": "val"' in l or '"split":"val"' in l)
    assert epochs >= 2
    assert sum(l.startswith("epoch ") and "validation:" in l for l in plain.splitlines()) == epochs
    assert sum(l.startswith("run started: ") for l in plain.splitlines()) == 1
    assert not any(l.startswith(("epoch ", "run started")) for l in quiet.splitlines())
    for line in ("test, best-on-validation checkpoint", "run folder ", "wall time "):
        assert line in quiet and line in plain
    assert len(quiet.splitlines()) < len(plain.splitlines()) - epochs
    objs = [json.loads(l) for l in _replay("json", quiet=True).splitlines()]
    assert [o["type"] for o in objs] == ["run_finished", "result"]


def test_a_reader_that_goes_away_does_not_stop_the_run(tmp_path: Path) -> None:
    """`lfm run | head -2`: once the pipe's reader is gone, the run still goes to its end."""
    from rich.console import Console

    from lfm_tui.headless import run_headless

    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as out:
        code = run_headless([], console=Console(file=out, width=80), log_format="plain",
                            command=[sys.executable, str(FAKE), "replay", str(RECORDED)])
    assert code == 0


# ----------------------------------------------------------------------------- lfm prepare, piped

def test_piped_prepare_writes_plain_progress_lines(tmp_path: Path) -> None:
    root = L.cremad(tmp_path / "cremad")
    res = subprocess.run(LFM + ["prepare", "cremad", "--root", str(root), "--check"], cwd=tmp_path,
                         capture_output=True, env=env(LFM_PROGRESS_EVERY="0", LFM_CACHE=str(tmp_path / "cache")))
    assert res.returncode == 0, res.stderr
    assert b"\r" not in res.stdout + res.stderr and b"\x1b" not in res.stdout + res.stderr
    lines = res.stderr.decode().splitlines()
    steps = [l for l in lines if l.startswith("checking cremad: ")]
    assert [l.split()[2] for l in steps] == [f"{i}/18" for i in range(1, 19)]
    assert "(100%), done in" in steps[-1]


def test_progress_lines_at_an_interval() -> None:
    from engine.contract.progress import plain_lines

    out = io.StringIO()
    assert list(plain_lines(range(5), "items", "item", out, every=0)) == [0, 1, 2, 3, 4]
    assert [l.split(": ")[1].split(" ")[0] for l in out.getvalue().splitlines()] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    out = io.StringIO()
    list(plain_lines(range(1000), "items", "item", out, every=3600))
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[0]]  # only the final line
    assert out.getvalue().startswith("items: 1000/1000 item(s) (100%), done in")


# ----------------------------------------------------------------------------- lfm tensorboard

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting to be reaped."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def cmdline(pid: int) -> list[str]:
    return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode().split("\0")[:-1]


def tensorboard_child(pid: int) -> int | None:
    """The child of `pid` that runs TensorBoard (a child that ends while it is looked at is not it)."""
    for child in children(pid):
        try:
            if "tensorboard.main" in cmdline(child):
                return child
        except OSError:
            continue
    return None


def start_tensorboard(tmp_path: Path, *options: str) -> tuple[subprocess.Popen, int, int]:
    runs = tmp_path / "runs"
    runs.mkdir(exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(LFM + ["tensorboard", str(runs), "--port", str(port), *options], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
    child = wait_for(lambda: tensorboard_child(proc.pid), 60, "TensorBoard to start")
    wait_for(lambda: serving(port), 120, "TensorBoard to serve")
    return proc, child, port


def serving(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_tensorboard_gets_its_options_and_stops_with_lfm_on_sigterm(tmp_path: Path) -> None:
    proc, child, port = start_tensorboard(tmp_path, "--reload_interval", "7", "--", "--window_title", "lfm test")
    try:
        argv = cmdline(child)
        assert argv[argv.index("--reload_interval") + 1] == "7"
        assert argv[argv.index("--window_title") + 1] == "lfm test"
        assert argv[argv.index("--port") + 1] == str(port) and argv[argv.index("--logdir") + 1] == str(tmp_path / "runs")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 130  # stopped (engine/contract/outcome.py)
        wait_for(lambda: gone(child), 30, "the TensorBoard child to stop")
        assert not serving(port)
    finally:
        for p in (proc.pid, child):
            if not gone(p):
                os.kill(p, signal.SIGKILL)


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG and /proc are Linux's")
def test_tensorboard_child_dies_with_a_killed_lfm(tmp_path: Path) -> None:
    proc, child, port = start_tensorboard(tmp_path)
    try:
        proc.kill()  # SIGKILL: no handler of lfm runs
        proc.wait(timeout=60)
        wait_for(lambda: gone(child), 30, "the TensorBoard child to stop")
        assert not serving(port)
    finally:
        if not gone(child):
            os.kill(child, signal.SIGKILL)


def test_tensorboard_passes_bind_all_and_refuses_its_own_options(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    # --bind_all reaches TensorBoard, which refuses it beside --host: nothing is served
    res = subprocess.run(LFM + ["tensorboard", "runs", "--bind_all", "--host", "localhost"], cwd=tmp_path,
                         capture_output=True, text=True, env=env(), timeout=120)
    assert res.returncode != 0 and "Must not specify both --host and --bind_all" in res.stderr, res.stderr
    for args, message in ((["--", "--logdir", "x"], "--logdir: the log folder is lfm tensorboard's RUNS argument"),
                          (["--port", "1", "--", "--port", "2"], "--port: given twice, 1 and 2")):
        res = subprocess.run(LFM + ["tensorboard", "runs", *args], cwd=tmp_path, capture_output=True, text=True,
                             env=env(), timeout=60)
        assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr


def test_live_view_shows_an_eta_and_an_elapsed_time_that_goes_on() -> None:
    """The live view of `lfm run` on a terminal: the run's elapsed time keeps counting after the
    steps' row completes an epoch, and an ETA at the pace so far."""
    from rich.console import Console

    from engine.contract.events import Event, parse_line
    from lfm_tui.headless import LiveView

    now = [1000.0]
    view = LiveView(Console(file=io.StringIO(), width=120, force_terminal=True), clock=lambda: now[0])

    def shown() -> str:
        console = Console(file=io.StringIO(), width=120)
        console.print(view)
        return console.file.getvalue()

    events = [e for e in map(parse_line, RECORDED.read_text().splitlines()) if isinstance(e, Event)]
    first_val = next(i for i, e in enumerate(events) if e.type == "eval" and e["split"] == "val")
    for ev in events[:first_val + 1]:  # epoch 1 of 4, in 30 s
        view.handle(ev)
    now[0] += 30
    assert "elapsed 0:00:30  ETA 0:01:30" in shown()
    second_step = next(i for i, e in enumerate(events) if e.type == "step" and e["epoch"] == 2)
    for ev in events[first_val + 1:second_step + 1]:
        view.handle(ev)
    now[0] += 15
    text = shown()
    assert "elapsed 0:00:45  ETA " in text and "ETA …" not in text
    for ev in events[second_step + 1:]:
        view.handle(ev)
    now[0] += 60
    assert "elapsed 0:01:45  epochs done" in shown()


# ----------------------------------------------------------------------------- a first run's preparation

@pytest.mark.slow  # computes the MiniLM embeddings of 1,906 texts: a minute or more
def test_a_first_run_with_an_empty_cache_says_what_it_prepares(tmp_path: Path, monkeypatch, capfd) -> None:
    """emoji with an empty cache computes its MiniLM text embeddings before the run starts: the
    engine says so as `preparing` events (start with where it caches them, end), which the plain
    log and the dashboard's header show; no library progress bar reaches the output."""
    from engine.contract import recipe as recipes
    from engine.contract.events import Preparing, parse_line
    from engine.run import EngineRun
    from lfm_tui.lines import PlainView
    from lfm_tui.screens.run import header_view
    from lfm_tui.session import RunSession
    from lfm_tui.widgets.run_header import header_text

    cache = tmp_path / "cache"
    monkeypatch.setenv("LFM_CACHE", str(cache))
    stream = io.StringIO()
    run = EngineRun(recipes.load(ROOT / "recipes" / "emoji.toml", ["train.threads=1"]),
                    run_dir=tmp_path / "run", stream=stream)
    try:
        run.setup()
    finally:
        run.cleanup()
    items = [parse_line(line) for line in stream.getvalue().splitlines()]
    assert items and all(isinstance(e, Preparing) for e in items)  # all of it before run_started
    assert {e.what for e in items} == {"text embeddings"}
    assert (items[0].done, items[-1].done) == (0, 1906) and {e.total for e in items} == {1906}
    [npy] = cache.glob("minilm-*.npy")
    assert items[0].cache == str(npy)
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.out + captured.err and "\r" not in captured.err

    out = io.StringIO()
    view = PlainView(out, err=io.StringIO(), every=600)
    for e in items:
        view.handle(e)
    assert out.getvalue().splitlines() == [
        f"preparing: text embeddings 0/1906 texts, cached in {npy} for the runs after",
        "preparing: text embeddings 1906/1906 texts"]

    from rich.console import Console
    from lfm_tui.headless import LiveView

    live = LiveView(Console(file=io.StringIO(), width=120, force_terminal=True))
    live.handle(items[0])
    shown = Console(file=io.StringIO(), width=200)
    shown.print(live)
    assert f"preparing: text embeddings 0/1906 texts, cached in {npy}" in shown.file.getvalue()

    session = RunSession(label="emoji")
    for e in items[:2]:
        session.feed(e)
    lines = header_text(header_view(session)).plain.splitlines()
    assert lines[1].startswith(f"preparing: text embeddings {items[1].done}/1906 texts")
    assert "waiting for the engine" not in lines[1]


def test_building_the_prepared_cache_reports_its_start_and_end(tmp_path: Path) -> None:
    """The prepared-data cache of a modality, built from nothing, is reported as preparing
    `<modality> cache` from 0 to all of its files, with the folder it is cached in; a cache
    that is current reports nothing."""
    import numpy as np

    from engine.contract import progress
    from engine.data import cache
    from engine.data.manifest import Source

    heard: list[tuple] = []
    spec = cache.ModalitySpec(params={"n": 1}, shape=(2,), dtype="float16",
                              read=lambda src: np.full(2, float(src.start), dtype=np.float16), input_spec={})
    sources = [Source("wav", f"/a/{i}.wav", start=i) for i in range(5)]
    with progress.reporting(lambda *args: heard.append(args)):
        array, _, why = cache.ensure(tmp_path / "c", "audio", spec, sources, progress=False)
        assert why == "no cache yet" and np.load(array)[4].tolist() == [4.0, 4.0]
        assert heard[0] == ("audio cache", 0, 5, "files", str(tmp_path / "c"))
        assert heard[-1] == ("audio cache", 5, 5, "files", str(tmp_path / "c"))
        count = len(heard)
        cache.ensure(tmp_path / "c", "audio", spec, sources, progress=False)
    assert len(heard) == count
