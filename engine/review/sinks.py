"""Callbacks of a run that write its record besides the event stream: engine.log and TensorBoard
(scalars, confusion matrices, the recipe, hyper-parameters)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

from engine.contract import gaps
from engine.contract.events import AlphaUpdated, Eval, Log, RunFinished, RunStarted, Step
from engine.training.callbacks import RunCallback


class EngineLog(RunCallback):
    """engine.log: the log messages and how the run finished, one timestamped line each."""

    def __init__(self, log_file: TextIO):
        self.file = log_file

    def on_log(self, ev: Log) -> None:
        self.file.write(f"{time.strftime('%H:%M:%S')} {ev.level}: {ev.message}\n")
        self.file.flush()

    def on_finish(self, ev: RunFinished) -> None:
        self.file.write(f"{time.strftime('%H:%M:%S')} finished: {ev.status}\n")
        if ev.traceback:
            self.file.write(ev.traceback)
        self.file.flush()


class TensorBoardSink(RunCallback):
    """Turns events into TensorBoard summaries in a run's TensorBoard folder
    (engine/contract/layout.py `tensorboard_dir`), all on one x-axis, the global step:

      scalars  `train/...` and `epoch` at each step event; `val/...` and `test/...` at the
               global step of the end of the evaluated epoch (add_scalar only: add_scalars
               makes phantom runs)
      images   `<split>/confusion` (fused) and `<split>/confusion_<modality>`: the confusion
               matrices an `eval` event carries, with class names, a title and a colour bar
               (the test split's counts; each validation's shares of each true class)
      text     `recipe`: the resolved recipe TOML, when a new run starts; `notes`: its tags and
               note (`lfm tag`, `lfm note`), when it starts or resumes with any
      hparams  at the end of a finished run: the run's hyper-parameters (engine/contract/hparams.py)
               with its best/* and test/* metrics

    `purge_step`: a resumed run's first step; what the stopped run wrote from there on is
    discarded by TensorBoard, so that the curves do not double back."""

    def __init__(self, logdir: Path, hparams: dict, recipe_text: str = "", purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(logdir), purge_step=purge_step)
        self.hparams, self.recipe_text = hparams, recipe_text
        self.global_step = 0
        self.steps_per_epoch = 0
        self.epoch_end: dict[int, int] = {}  # epoch -> global step of its last step
        self.classes: list[str] = []
        self.painter = None  # engine.training.confusion.Painter, made for the first confusion matrix

    def end_of_epoch(self, epoch: int) -> int:
        """The global step at which `epoch` (counted from 1) ended."""
        if epoch in self.epoch_end:
            return self.epoch_end[epoch]
        return epoch * self.steps_per_epoch if self.steps_per_epoch else self.global_step

    def scalar(self, tag: str, value, step: int) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.writer.add_scalar(tag, value, step)

    def on_run_started(self, ev: RunStarted) -> None:
        self.steps_per_epoch = ev["steps_per_epoch"]
        classes = ev.get("classes")
        self.classes = [str(c) for c in classes] if isinstance(classes, list) else []
        if ev["resumed_from"] is None and self.recipe_text:
            self.writer.add_text("recipe", f"```toml\n{self.recipe_text.rstrip()}\n```", 0)
        self.notes(Path(ev["run_dir"]), ev["resumed_from"])

    def notes(self, run_dir: Path, resumed_from) -> None:
        """`notes`: the run's tags and note (engine/contract/annotations.py) as they are when it
        starts or resumes (at the step it resumes from), where it has any."""
        from engine.contract import annotations

        notes = annotations.read(run_dir)
        if notes.tags or notes.note:
            at = resumed_from if isinstance(resumed_from, dict) else {}
            epoch, step = at.get("epoch"), at.get("step")
            gs = (epoch - 1) * self.steps_per_epoch + step if isinstance(epoch, int) and isinstance(step, int) else 0
            tags = " ".join(f"`{t}`" for t in notes.tags)
            self.writer.add_text("notes", "  \n".join(x for x in (tags and f"tags: {tags}", notes.note) if x),
                                 max(0, gs))

    def on_step(self, ev: Step) -> None:
        gs = self.global_step = ev["global_step"]
        if ev["step"] == self.steps_per_epoch:
            self.epoch_end[ev["epoch"]] = gs
        for name, value in ev["losses"].items():
            self.scalar(f"train/loss_{name}", value, gs)
        for key in ("alpha", "lr", "samples_per_s"):
            self.scalar(f"train/{key}", ev[key], gs)
        self.scalar("epoch", ev["epoch"], gs)

    def on_eval(self, ev: Eval) -> None:
        split, step = ev["split"], self.end_of_epoch(ev["epoch"])
        self.scalar(f"{split}/loss", ev["loss"], step)
        for k, v in ev["fused"].items():
            self.scalar(f"{split}/{k}", v, step)
        for m, metrics in ev["modalities"].items():
            for k, v in metrics.items():
                self.scalar(f"{split}/{k}_{m}", v, step)
        for name in gaps.TAGS:   # `gap` and `modality_gap` under their names (engine/contract/gaps.py)
            self.scalar(f"{split}/{gaps.tag(name)}", ev[name], step)
        self.confusion_images(ev, step)

    def confusion_images(self, ev: Eval, step: int) -> None:
        from engine.training import confusion
        tables = ev.get("confusion")
        if not isinstance(tables, dict) or not self.classes:
            return
        split, epoch = ev["split"], ev["epoch"]
        for head, matrix in tables.items():
            if not confusion.well_formed(matrix, len(self.classes)):
                continue
            acc = (ev["fused"] if head == "fused" else ev["modalities"].get(head, {})).get("acc")
            title = f"{split}, epoch {epoch}: {head}" + (f" (acc {acc:.1f}%)" if isinstance(acc, float) else "")
            self.painter = self.painter or confusion.Painter(self.classes)
            # the test split (once per run): counts; every validation: each true class's shares
            image = self.painter.render(head, matrix, title, shares=split != "test")
            tag = f"{split}/confusion" if head == "fused" else f"{split}/confusion_{head}"
            self.writer.add_image(tag, image, step, dataformats="HWC")

    def on_alpha_updated(self, ev: AlphaUpdated) -> None:
        step = ev.get("step")  # the global step of an update every N steps; 0 at the end of an epoch
        if not isinstance(step, int) or isinstance(step, bool) or step <= 0:
            step = self.end_of_epoch(ev["epoch"])
        self.scalar("train/hypergradient", ev["hypergradient"], step)
        self.scalar("train/alpha_epoch", ev["alpha"], step)
        for key in ("spread", "t", "agree", "evidence", "residual", "damping", "negative_curvature", "fallbacks"):
            if isinstance(ev.get(key), (bool, int, float)):  # how the solver did (engine/alpha/hypergrad.py)
                self.scalar(f"train/hypergradient_{key}", float(ev[key]), step)

    def on_finish(self, ev: RunFinished) -> None:
        if ev["status"] == "ok" and ev.get("best"):
            self.write_hparams(ev["best"], ev.get("test") or {})
        self.writer.flush()

    def write_hparams(self, best: dict, test: dict) -> None:
        """The hyper-parameters with the metrics TensorBoard shows beside them: best/* (written
        here) and test/* (the test split's scalars)."""
        from torch.utils.tensorboard.summary import hparams

        def numbers(d: dict) -> dict:
            return {k: float(v) for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

        best_metrics = {f"best/{gaps.tag(k)}": v for k, v in numbers(best).items()}
        metrics = {**best_metrics, **{f"test/{gaps.tag(k)}": v for k, v in numbers(test).items()}}
        exp, ssi, sei = hparams(self.hparams, metrics)
        fw = self.writer._get_file_writer()
        for s in (exp, ssi, sei):
            fw.add_summary(s)
        for k, v in best_metrics.items():
            self.writer.add_scalar(k, v, self.global_step)

    def close(self) -> None:
        self.writer.close()
