"""What this machine offers parallel runs: CPU threads and GPUs, found without torch
(CUDA_VISIBLE_DEVICES, else nvidia-smi), and how `--jobs N` divides them into slots, one run at a
time in each."""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass


def cpu_count() -> int:
    """CPUs this process may use (its affinity, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def visible_gpus(env: dict | None = None) -> list[str]:
    """The GPUs runs may use: CUDA_VISIBLE_DEVICES when it is set (empty or -1: none), else the
    devices nvidia-smi lists, else none."""
    env = os.environ if env is None else env
    if "CUDA_VISIBLE_DEVICES" in env:
        ids = [d.strip() for d in env["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
        return [] if not ids or ids[0].startswith("-") else ids
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip().isdigit()] if out.returncode == 0 else []


@dataclass(frozen=True)
class Slot:
    """One of the `--jobs` places a run executes in: its CPU threads and its GPUs (None: the
    environment's devices left as they are; []: no GPU)."""
    index: int
    threads: int
    gpus: tuple[str, ...] | None

    def env(self) -> dict[str, str]:
        return {} if self.gpus is None else {"CUDA_VISIBLE_DEVICES": ",".join(self.gpus)}

    def where(self) -> str:
        if self.gpus is None:
            return f"slot {self.index + 1}"
        return f"slot {self.index + 1}, " + (f"GPU {','.join(self.gpus)}" if self.gpus else "CPU")


def slots(jobs: int, cpus_per_run: int | None, gpus_per_run: int | None,
          cpus: int | None = None, gpus: list[str] | None = None) -> list[Slot]:
    """`jobs` slots. Threads: `cpus_per_run`, else this process's CPUs shared out (at least one
    each), 0 (the recipe's choice) with a single job. GPUs: `gpus_per_run` devices each (0: the
    CPU only); by default, with GPUs present, as many each as divide evenly. Raises ValueError
    with the message for the user when the devices do not go round."""
    cpus = cpu_count() if cpus is None else cpus
    gpus = visible_gpus() if gpus is None else gpus
    threads = cpus_per_run if cpus_per_run is not None else (max(1, cpus // jobs) if jobs > 1 else 0)
    if gpus_per_run is None:
        if not gpus or jobs == 1:
            return [Slot(i, threads, None) for i in range(jobs)]
        if len(gpus) < jobs:
            raise ValueError(f"--jobs {jobs} with {len(gpus)} GPU(s) ({','.join(gpus)}): each run gets its own "
                             "device; lower --jobs, or give --gpus-per-run 0 to train on the CPU")
        gpus_per_run = len(gpus) // jobs
    if gpus_per_run > 0 and jobs * gpus_per_run > len(gpus):
        have = f"{len(gpus)} visible ({','.join(gpus)})" if gpus else "none visible (CUDA_VISIBLE_DEVICES, nvidia-smi)"
        raise ValueError(f"--jobs {jobs} x --gpus-per-run {gpus_per_run} needs {jobs * gpus_per_run} GPU(s); "
                         f"{have}")
    return [Slot(i, threads, tuple(gpus[i * gpus_per_run:(i + 1) * gpus_per_run])) for i in range(jobs)]
