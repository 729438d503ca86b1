"""Where events go besides the stream: engine.log, TensorBoard scalars and hyper-parameters."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, TextIO

from engine.events import Event


def jsonl_writer(events_file: TextIO) -> Callable[[Event], None]:
    """events.jsonl: every event, one line each, flushed; a failed write (a full disk) raises,
    naming the file."""
    def write(ev: Event) -> None:
        try:
            events_file.write(ev.to_json() + "\n")
            events_file.flush()
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, getattr(events_file, "name", None)) from exc

    return write


def log_writer(log_file: TextIO) -> Callable[[Event], None]:
    """engine.log: the log events and how the run finished, one timestamped line each."""
    def write(ev: Event) -> None:
        if ev.type == "log":
            log_file.write(f"{time.strftime('%H:%M:%S')} {ev['level']}: {ev['message']}\n")
        elif ev.type == "run_finished":
            log_file.write(f"{time.strftime('%H:%M:%S')} finished: {ev['status']}\n")
            if ev.get("traceback"):
                log_file.write(ev["traceback"])
        log_file.flush()

    return write


class TensorBoardSink:
    """Turns events into TensorBoard scalars (add_scalar only: add_scalars makes phantom runs)
    under `train/...`, `val/...` and `test/...`; writes the hyper-parameters once, at the end,
    into the same folder with the best validation metrics."""

    def __init__(self, logdir: Path, hparams: dict):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(logdir))
        self.hparams = hparams
        self.global_step = 0
        self.epoch_step: dict[int, int] = {}

    def __call__(self, ev: Event) -> None:
        w = self.writer
        if ev.type == "step":
            self.global_step = ev["global_step"]
            self.epoch_step[ev["epoch"]] = ev["global_step"]
            for name, value in ev["losses"].items():
                w.add_scalar(f"train/loss_{name}", value, self.global_step)
            w.add_scalar("train/alpha", ev["alpha"], self.global_step)
            w.add_scalar("train/lr", ev["lr"], self.global_step)
            w.add_scalar("train/samples_per_s", ev["samples_per_s"], self.global_step)
        elif ev.type == "eval":
            split, step = ev["split"], ev["epoch"]
            w.add_scalar(f"{split}/loss", ev["loss"], step)
            for k, v in ev["fused"].items():
                w.add_scalar(f"{split}/{k}", v, step)
            for m, metrics in ev["modalities"].items():
                for k, v in metrics.items():
                    w.add_scalar(f"{split}/{k}_{m}", v, step)
            w.add_scalar(f"{split}/gap", ev["gap"], step)
            w.add_scalar(f"{split}/modality_gap", ev["modality_gap"], step)
        elif ev.type == "alpha_updated":
            w.add_scalar("train/hypergradient", ev["hypergradient"], ev["epoch"])
            w.add_scalar("train/alpha_epoch", ev["alpha"], ev["epoch"])
            for key in ("spread", "residual", "damping", "negative_curvature", "fallbacks"):
                if isinstance(ev.get(key), (bool, int, float)):  # how the solver did (engine/hypergrad.py)
                    w.add_scalar(f"train/hypergradient_{key}", float(ev[key]), ev["epoch"])
        elif ev.type == "run_finished":
            if ev["status"] == "ok" and ev.get("best"):
                self.write_hparams(ev["best"])
            w.flush()

    def write_hparams(self, best: dict) -> None:
        from torch.utils.tensorboard.summary import hparams

        metrics = {f"best/{k}": float(v) for k, v in best.items() if isinstance(v, (int, float))}
        exp, ssi, sei = hparams(self.hparams, metrics)
        fw = self.writer._get_file_writer()
        for s in (exp, ssi, sei):
            fw.add_summary(s)
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, 0)

    def close(self) -> None:
        self.writer.close()


def flat_hparams(recipe_dict: dict, prefix: str = "") -> dict:
    """The recipe as flat `section.key` hyper-parameters (lists as text)."""
    out = {}
    for k, v in recipe_dict.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat_hparams(v, key + "."))
        elif isinstance(v, (bool, int, float, str)):
            out[key] = v
        else:
            out[key] = str(v)
    return out
