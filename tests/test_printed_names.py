"""What the console prints of names read from disk and of how processes ended: a folder named
with escape codes or a newline is printed escaped (`engine.contract.outcome.shown`), never drawn on the
terminal; a library's colour codes are stripped; an engine killed by a signal is said so in
words; a finished run whose event file was cut short reads as finished (its summary.json);
`lfm tensorboard` on a port in use is exit status 2 with a message."""
from __future__ import annotations

import io
import json
import socket
import subprocess
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from engine.ensemble import render
from engine.contract.events import LogLine
from engine.contract.outcome import command, exit_text, shown
from lfm_tui import plan as plans
from lfm_tui import sweep
from lfm_tui.cli import app
from lfm_tui.executors.base import Report
from lfm_tui.executors.task import Task
from lfm_tui.executors.view import SweepView
from lfm_tui.sweep_status import SweepStatus
from lfm_tui.tensorboard import exit_status
from test_cli_run import ENV, LFM

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "runs" / "mfeat" / "20261127-092227-0" / "events.jsonl"
NASTY = "run\x1b[2J\x1b[31mred\nfake line"


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_names_are_shown_escaped_and_commands_quoted_for_bash() -> None:
    assert shown(f"runs/{NASTY}") == "runs/run\\x1b[2J\\x1b[31mred\\nfake line"
    assert shown("runs/mfeat/20261206-1 ü") == "runs/mfeat/20261206-1 ü"
    assert command("lfm", "run", "--resume", "it's\x1b[2J") == "lfm run --resume $'it\\'s\\x1b[2J'"
    out = subprocess.run(["bash", "-c", f"printf %s {command(NASTY)}"], capture_output=True, text=True).stdout
    assert out == NASTY  # pasted into bash, the word is the folder's name again
    assert command("lfm", "a b") == "lfm 'a b'"
    assert (exit_text(-9), exit_text(-99), exit_text(3)) == ("killed by signal 9 (SIGKILL)", "killed by signal 99",
                                                             "exit status 3")


def test_ensemble_prints_run_folders_escaped() -> None:
    member = {"modalities": ["pix"], "acc": 90.0, "map": 91.0, "f1": 92.0}
    text = render({"members": [{**member, "run": f"runs/{NASTY}"}], "rule": "mean", "samples": 10,
                   "ensemble": {"acc": 1.0, "map": 2.0, "f1": 3.0}})
    assert "\x1b" not in text and "\\x1b[2J\\x1b[31mred\\nfake line" in text
    assert len(text.splitlines()) == 4  # the header, the member, the ensemble, the samples: no line faked
    res = subprocess.run(LFM + ["ensemble", f"/nonexistent/{NASTY}", "/nonexistent/b"], capture_output=True,
                         text=True, env=ENV, timeout=120)
    assert res.returncode == 2 and "\x1b" not in res.stderr and "red\\nfake line" in res.stderr, res.stderr


def test_sweep_status_prints_names_escaped_and_a_cut_finished_run_as_finished(tiny_mfeat: Path, tmp_path: Path) -> None:
    folder = tmp_path / NASTY
    sweep.create(folder, tiny_mfeat, [], [("method.name", ["concat", "lfm\x1b[5m"])], [0], ["lfm", "sweep"])
    run = folder / plans.folder_name({"method.name": "concat"}) / "seed-0"
    run.mkdir(parents=True)
    lines = FIXTURE.read_text().splitlines()
    (run / "events.jsonl").write_text("\n".join(lines[:21]) + '\n{"v":1,"type":"st')  # cut short mid-run
    finished = json.loads(lines[-1])
    (run / "summary.json").write_text(json.dumps({"status": "ok", "epochs_done": 4, "best": finished["best"],
                                                  "test": finished["test"]}))
    row = SweepStatus(folder).refresh()[0]
    assert (row.status, row.progress.progress, row.progress.test_acc) == ("ok", 1.0, 98.0)
    assert (row.progress.epoch, row.progress.epochs, row.progress.epochs_done) == (4, 4, 4)

    res = CliRunner().invoke(app, ["sweep", "--status", str(folder)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output and "run\\x1b[2J\\x1b[31mred\\nfake line" in res.output
    assert "lfm\\x1b[5m" in res.output and "1 ok, 1 queued" in res.output and "running" not in res.output


def test_a_killed_engine_is_said_killed_by_its_signal_and_library_colours_are_stripped(tiny_mfeat: Path,
                                                                                    tmp_path: Path) -> None:
    con, out = console()
    view = SweepView(con, 1, "sweep")
    task = Task(0, "method.name=concat seed 0", str(tmp_path / "run"), [])
    view.start(task, "slot 1")
    view.feed(0, LogLine("\x1b[36m(run_task pid=1)\x1b[0m CUDA error", "stderr"))
    assert view.end(task, -9) == "failed"
    text = out.getvalue()
    assert "killed by SIGKILL" in text and "exit status -9" not in text
    assert "(run_task pid=1) CUDA error" in text and "\x1b" not in text

    # the sweep's list of failed runs
    folder = tmp_path / "sw"
    sweep.create(folder, tiny_mfeat, [], [], [0], ["lfm", "sweep"])

    class Killed:
        remote, threads_per_run = False, 0

        def run(self, tasks, console, title):
            return Report(codes={0: -9})

    con, out = console()
    assert sweep._run(folder, False, con, None, Killed()) == 1
    assert "failed runs:" in out.getvalue() and "(killed by signal 9 (SIGKILL)," in out.getvalue()


def test_tensorboard_on_a_port_in_use_is_exit_status_2(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = subprocess.run(LFM + ["tensorboard", "runs", "--port", str(port)], cwd=tmp_path, capture_output=True,
                             text=True, env=ENV, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"port {port} is in use" in res.stderr and "Traceback" not in res.stderr
    assert [exit_status(c) for c in (0, 2, 1, 255, -9)] == [0, 2, 1, 1, 1]
