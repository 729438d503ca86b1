"""`--executor slurm`: the runs as one Slurm job array through submitit, each array task asking
`--cpus-per-run` CPUs and `--gpus-per-run` GPUs, with the partition, time limit, account and
memory from the command line or the recipe's `[sweep.slurm]` table. submitit's checkpointing
hook stops the engine with SIGINT (it writes its checkpoint) when Slurm preempts the job or its
time limit nears (USR2), and requeues it; the requeued task resumes from the checkpoint. Unless
`--detach`, `lfm` then watches the sweep from its run folders until every task has ended.

submitit is imported here only, inside the functions that use it.
"""
from __future__ import annotations

import difflib
import re
import shutil
import time
from pathlib import Path

from rich.live import Live

from engine.contract import layout
from engine.contract.outcome import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK
from lfm_tui.executors.base import Executor, OptionsError, Report
from lfm_tui.executors.task import EngineProcess, Task

STOP_GRACE_S = 60.0   # how long a preempted job waits for the engine's checkpoint
WATCH_S = 5.0         # how often the watcher reads the run folders (seconds)
# [sweep.slurm] keys -> submitit's names; partition/time/account/mem_gb also on the command line
KEYS = {"partition": "slurm_partition", "time": "timeout_min", "account": "slurm_account", "mem_gb": "mem_gb",
        "cpus_per_run": "cpus_per_task", "gpus_per_run": "gpus_per_node", "qos": "slurm_qos",
        "constraint": "slurm_constraint", "setup": "slurm_setup", "additional": "slurm_additional_parameters"}


def parse_time(value) -> int:
    """A time limit in minutes: an integer, or `[D-]HH:MM[:SS]`."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    text = str(value).strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    m = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d{2})(?::(\d{2}))?", text)
    if not m:
        raise ValueError(f"time limit {value!r}: expected minutes (90) or [D-]HH:MM[:SS] (1-12:00:00)")
    days, hours, mins, secs = (int(g or 0) for g in m.groups())
    return max(1, days * 1440 + hours * 60 + mins + (1 if secs else 0))


def settings(table: dict, cli: dict, cpus: int | None, gpus: int | None) -> dict:
    """submitit parameters from the [sweep.slurm] table, overridden by the command line; raises
    OptionsError naming every bad key or value."""
    merged = {**table, **{k: v for k, v in cli.items() if v not in (None, "")}}
    if cpus is not None:
        merged["cpus_per_run"] = cpus
    if gpus is not None:
        merged["gpus_per_run"] = gpus
    problems, out = [], {"cpus_per_task": 1, "gpus_per_node": 0, "timeout_min": 60}
    for key, value in merged.items():
        if key not in KEYS:
            near = difflib.get_close_matches(key, list(KEYS), n=1)
            problems.append(f"sweep.slurm.{key}: unknown key" + (f" (did you mean {near[0]!r}?)" if near else "")
                            + f"; known: {', '.join(KEYS)}")
            continue
        try:
            out[KEYS[key]] = _value(key, value)
        except ValueError as exc:
            problems.append(f"sweep.slurm.{key}: {exc}")
    if problems:
        raise OptionsError(problems)
    return out


def _value(key: str, value):
    if key == "time":
        return parse_time(value)
    if key in ("cpus_per_run", "gpus_per_run"):
        if not isinstance(value, int) or isinstance(value, bool) or value < (1 if key == "cpus_per_run" else 0):
            raise ValueError(f"expected an integer >= {1 if key == 'cpus_per_run' else 0}, found {value!r}")
        return value
    if key == "mem_gb":
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"expected a number of GB > 0, found {value!r}")
        return value
    if key == "setup":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"expected a list of shell lines, found {value!r}")
        return value
    if key == "additional":
        if not isinstance(value, dict):
            raise ValueError(f"expected a table of sbatch options, found {value!r}")
        return {str(k): v for k, v in value.items()}
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a text, found {value!r}")
    return value


class SlurmRun:
    """What an array task runs (submitit pickles it): the engine on its run folder. Its
    `checkpoint` is submitit's hook on preemption and time-out: stop the engine with SIGINT
    (it writes last.pt), then requeue this task, which then resumes."""

    def __init__(self) -> None:
        self.proc: EngineProcess | None = None

    def __call__(self, task: Task) -> dict:
        args = task.engine_args()
        if args is None:
            return {"index": task.index, "code": EXIT_OK, "status": "ok", "skipped": True}
        self.proc = EngineProcess(task, args, events=False)
        self.proc.start()
        code = self.proc.wait(interval=1.0)
        return {"index": task.index, "code": code, "status": layout.status(Path(task.run_dir)), "skipped": False}

    def checkpoint(self, task: Task):
        from submitit.helpers import DelayedSubmission

        if self.proc is not None and self.proc.poll() is None:
            self.proc.stop(STOP_GRACE_S)
        return DelayedSubmission(SlurmRun(), task)


class SlurmExecutor(Executor):
    remote = True
    watch_s = WATCH_S

    def __init__(self, options, table: dict, cluster: str = "slurm"):
        self.options, self.cluster = options, cluster
        self.params = settings(table, options.slurm, options.cpus_per_run, options.gpus_per_run)
        self.threads_per_run = self.params["cpus_per_task"]
        self.jobs: list = []

    def prepare(self, folder: Path) -> None:
        self.folder = Path(folder).resolve()
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise OptionsError(["--executor slurm needs submitit: pip install 'lfm-console[cluster]' "
                                "(or pip install submitit)"]) from None
        if self.cluster == "slurm" and not (shutil.which("sbatch") and shutil.which("srun")):
            raise OptionsError(["--executor slurm submits with sbatch and srun, which are not on PATH: "
                                "run it on a Slurm login node"])

    def describe(self, n: int) -> str:
        p = self.params
        where = f" on partition {p['slurm_partition']}" if "slurm_partition" in p else ""
        gpus = f", {p['gpus_per_node']} GPU(s)" if p["gpus_per_node"] else ""
        return f", a Slurm job array{where} ({p['cpus_per_task']} CPU(s){gpus}, {p['timeout_min']} min each)"

    def submit(self, tasks: list[Task], folder: Path, name: str) -> list:
        """The job array; raises OptionsError with sbatch's own message when it refuses it."""
        import submitit
        from submitit.core.utils import FailedJobError, FailedSubmissionError

        executor = submitit.AutoExecutor(folder=folder / "slurm", cluster=self.cluster)
        parallel = self.options.jobs if self.options.jobs > 1 else len(tasks)
        try:
            executor.update_parameters(name=f"lfm-{name}", slurm_array_parallelism=parallel, **self.params)
            return executor.map_array(SlurmRun(), tasks)
        except (FailedJobError, FailedSubmissionError, OSError, ValueError) as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            raise OptionsError([f"the job array was not submitted: {lines[-1] if lines else type(exc).__name__}"]) from None

    def run(self, tasks: list[Task], console, title: str) -> Report:
        todo = [t for t in tasks if t.state() != "done"]
        for t in tasks:
            if t not in todo:
                console.print(f"[dim][{t.index + 1}/{len(tasks)}] {t.label}: finished, skipped[/]")
        report = Report({t.index: EXIT_OK for t in tasks if t not in todo})
        if not todo:
            return report
        sweep_dir = self.folder
        self.jobs = self.submit(todo, sweep_dir, title)
        array = self.jobs[0].job_id.split("_")[0]
        console.print(f"submitted job array {array}: {len(todo)} task(s); logs in {sweep_dir / 'slurm'}")
        console.print(f"state of every run: [bold]lfm sweep --status {sweep_dir}[/]"
                      + (f"   cancel: [bold]scancel {array}[/]" if self.cluster == "slurm" else ""))
        if self.options.detach:
            report.detached = True
            return report
        return self.watch(todo, sweep_dir, console, report)

    def watch(self, todo: list[Task], sweep_dir: Path, console, report: Report) -> Report:
        """Until every task has ended: the sweep's status table from its run folders. Ctrl-C
        stops watching (the jobs go on)."""
        from lfm_tui.executors.view import status_table
        from lfm_tui.sweep_status import SweepStatus

        status = SweepStatus(sweep_dir)
        keys = [k for k, _ in status.grid]
        try:
            with Live(status_table(status.refresh(), keys, status.name), console=console,
                      refresh_per_second=1, transient=True) as live:
                while not all(job.done() for job in self.jobs):
                    time.sleep(self.watch_s)
                    live.update(status_table(status.refresh(), keys, status.name))
        except KeyboardInterrupt:
            console.print(f"[yellow]stopped watching; the jobs go on[/]: lfm sweep --status {sweep_dir}")
            report.detached = True
            return report
        for task, job in zip(todo, self.jobs):
            report.codes[task.index] = _code(job)
        console.print(status_table(status.refresh(), keys, status.name))
        return report


def _code(job) -> int:
    try:
        result = job.result()
    except Exception:  # the job failed, was cancelled or its result cannot be read
        return EXIT_FAILED
    if result.get("status") == "cancelled":
        return EXIT_CANCELLED
    return result.get("code", EXIT_FAILED) if result.get("status") != "ok" else EXIT_OK
