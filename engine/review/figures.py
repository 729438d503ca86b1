"""Review figures of a trained model, from the `[review]` recipe section, on rank 0:

    the embedding gap (engine/review/gap.py; engine/contract/gaps.py): a fixed sample of the test
        split, each modality's normalised matching-loss embeddings into TensorBoard's embedding
        projector (metadata columns `modality` and `class`; its files in
        `projector/<tag>-step<global step>/` of the run folder, listed in `projector_config.pbtxt`),
        the centroid distance as the scalar `review/embedding_gap[_best]`, and a 2-D picture (PCA
        or UMAP) as `figures/gap.png` and the TensorBoard image `review/embedding_gap_picture[_best]`
        (a tag is never both a scalar and an image: TensorBoard lists neither of such a pair);
        every `review.gap_every` epochs on that epoch's weights (`figures/gap-epoch<NNN>.png`,
        projector tag `embedding_gap`) and once at the end on the best checkpoint's (tag
        `embedding_gap_best`)
    Grad-CAM (engine/review/gradcam.py): at the end, on the best checkpoint's weights,
        `review.gradcam_per_class` test samples of each class per convolutional encoder:
        `figures/gradcam/<modality>/<class>-<k>.png`, all of them in `figures/gradcam/<modality>.png`
        and the TensorBoard image `review/gradcam_<modality>`; with `review.gradcam_epochs` also
        after the validation of each of those epochs, on that epoch's weights and the same test
        samples (the first of each class of the test split, which `data.split_seed` fixes):
        `figures/gradcam/<modality>-epoch<NNN>.png`, every convolutional modality's in
        `figures/gradcam-epoch<NNN>.png` (one above the other) and the same image tag at that
        epoch's step (the final one is not drawn again at a step it already has); skipped,
        with one log line saying why, where no encoder is convolutional

It writes with its own TensorBoard writer into the run's TensorBoard folder (engine/contract/layout.py
`tensorboard_dir`), at the global step of the end of the epoch whose weights are shown (the x-axis
of the run's other summaries; the projector's entries are named `<tag>:<step, 5 digits>`). A figure that
fails is one warning in the run's log: the run's training and test results stand.
"""
from __future__ import annotations

import io
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from engine.contract import events, gaps, layout, writes
from engine.contract.context import RunContext
from engine.data.base import steps_per_epoch
from engine.training.callbacks import Report, RunCallback

FIGURES = "figures"
PROJECTOR = "projector"  # the projector's files, under the TensorBoard folder


class Review(RunCallback):
    """The review figures of one run: `on_eval` (a callback of the run: the periodic modality
    gap), `final(best_epoch)` once the test split is evaluated with the best checkpoint, and
    `close()`; what it says goes to `report`'s log."""

    def __init__(self, ctx: RunContext, run_dir: Path, report: Report):
        self.ctx, self.cfg, self.report = ctx, ctx.recipe.review, report
        self.run_dir = Path(run_dir)
        self.figures = self.run_dir / FIGURES
        self._writer = None
        self._projector = None  # the projector's config (ProjectorConfig), read on first use
        self.steps_per_epoch = steps_per_epoch(len(ctx.data.train), ctx.recipe.data.batch_size)
        last = ctx.recipe.train.epochs
        self.gradcam_epochs = {last if e == -1 else e for e in self.cfg.gradcam_epochs}
        self.gradcam_skip_said = False

    def step(self, epoch: int) -> int:
        """TensorBoard's x-axis, as for the run's other summaries: the global step at the end of `epoch`."""
        return epoch * self.steps_per_epoch

    # ------------------------------------------------------------------ entry points
    def on_eval(self, ev: events.Eval) -> None:
        every = self.cfg.gap_every
        if (ev.split == "val" and every and self.cfg.gap_samples
                and ev.epoch % every == 0 and len(self.ctx.model.modalities) > 1):
            self._guarded(gaps.EMBEDDING, self.gap, ev.epoch, False)
        if ev.split == "val" and ev.epoch in self.gradcam_epochs:
            self._guarded("Grad-CAM", self.gradcam, ev.epoch, False)

    def final(self, best_epoch: int) -> None:
        """The end-of-run figures, from the weights the test split was evaluated with."""
        if self.cfg.gap_samples and len(self.ctx.model.modalities) < 2:
            self.report.log(events.Log(level="info", message=f"review: {gaps.EMBEDDING} skipped: the model has one modality"))
        elif self.cfg.gap_samples:
            self._guarded(gaps.EMBEDDING, self.gap, best_epoch, True)
        if self.cfg.gradcam:
            self._guarded("Grad-CAM", self.gradcam, best_epoch, True)
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _guarded(self, what: str, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a figure is not the run's result: say so, keep going
            print(traceback.format_exc(), file=sys.stderr)
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            self.report.log(events.Log(level="warning", message=f"review: {what} not written ({type(exc).__name__}: {first})"))

    # ------------------------------------------------------------------ TensorBoard
    def writer(self):
        """The review's SummaryWriter, made on first use."""
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            logdir = layout.tensorboard_dir(self.run_dir)
            self._writer = SummaryWriter(log_dir=str(logdir))
        return self._writer

    def _add_png(self, tag: str, png: bytes, step: int) -> None:
        import numpy as np
        from PIL import Image

        img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        self.writer().add_image(tag, img, step, dataformats="HWC")

    # ------------------------------------------------------------------ the figures
    def gap(self, epoch: int, final: bool) -> None:
        import matplotlib.pyplot as plt

        from engine.review import gap as rg
        tick = time.perf_counter()
        ctx, cfg = self.ctx, self.cfg
        emb, labels = rg.gap_embeddings(ctx, cfg.gap_samples)
        dist = rg.centroid_distance(emb)
        tag = f"{gaps.EMBEDDING_TAG}_best" if final else gaps.EMBEDDING_TAG
        mat, meta = rg.projector_rows(emb, labels, ctx.data.class_names)
        step = self.step(epoch)
        self.projector(tag, step, mat, meta)
        self.writer().add_scalar(f"review/{tag}", dist, step)
        which = f"best checkpoint, epoch {epoch}" if final else f"epoch {epoch}"
        fig = rg.gap_figure(emb, labels, ctx.data.class_names, cfg.gap_projection, ctx.recipe.train.seed,
                            f"{ctx.recipe.name}: {gaps.EMBEDDING}, {len(labels)} test samples ({which})")
        buf = io.BytesIO()
        try:
            fig.savefig(buf, format="png")
        finally:
            plt.close(fig)
        path = self.figures / ("gap.png" if final else f"gap-epoch{epoch:03d}.png")
        self._write(path, buf.getvalue())
        self._add_png(f"review/{gaps.EMBEDDING_TAG}_picture{'_best' if final else ''}", buf.getvalue(), step)
        self.report.log(events.Log(level="info",
                  message=f"review: {gaps.embedding(len(labels))}, {which}: centroid distance {dist:.4f}; "
                          f"{path.relative_to(self.run_dir)} ({time.perf_counter() - tick:.1f} s)"))

    def projector(self, tag: str, step: int, mat, meta: list[list[str]]) -> None:
        """The embedding into TensorBoard's projector: its rows and metadata in
        `projector/<tag>-step<step>/` (tensors.tsv, metadata.tsv), an entry `<tag>:<step>` in
        `projector_config.pbtxt`, which keeps the entries written before (a resumed run too)."""
        from google.protobuf import text_format
        from torch.utils.tensorboard._embedding import get_embedding_info, make_mat, make_tsv

        logdir = layout.tensorboard_dir(self.run_dir)
        subdir = f"{PROJECTOR}/{tag}-step{step}"
        folder, config = logdir / subdir, logdir / "projector_config.pbtxt"
        for f in (folder.parent, folder, folder / "tensors.tsv", folder / "metadata.tsv", config):
            writes.refuse_link(f)
        writes.make_folders(folder, self.run_dir)
        make_tsv(meta, str(folder), metadata_header=["modality", "class"])
        make_mat(mat.detach().float().cpu().numpy(), str(folder))
        if self._projector is None:
            self._projector = earlier_projector_config(logdir)
        entry = get_embedding_info(meta, None, subdir, step, tag)   # named `<tag>:<step, 5 digits>`
        kept = [e for e in self._projector.embeddings if e.tensor_name != entry.tensor_name]
        del self._projector.embeddings[:]
        self._projector.embeddings.extend([*kept, entry])
        with writes.atomic_open(config) as fh:
            fh.write(text_format.MessageToString(self._projector).encode())

    def gradcam(self, epoch: int, final: bool) -> None:
        """Grad-CAM sheets of the convolutional encoders: at the end on the best checkpoint (with
        a file per sample), or on epoch `epoch`'s weights just validated."""
        from engine.review import gradcam as rc
        tick = time.perf_counter()
        ctx, per_class = self.ctx, self.cfg.gradcam_per_class
        found, why = rc.targets(ctx)
        if why:
            if not self.gradcam_skip_said:
                self.report.log(events.Log(level="info", message=f"review: {why}"))
            self.gradcam_skip_said = True
            return
        split, names = ctx.data.test, ctx.data.class_names
        chosen = rc.pick(split.labels, len(names), per_class)   # the same samples at every epoch
        sheets, layers = [], []
        for m, layer in found.items():
            name = next(n for n, mod in ctx.model.encoders[m].named_modules() if mod is layer)
            layers.append(f"{m} at its encoder's last convolution ({name})")
            panels, seen = [], {}
            for chunk in chosen.split(64):
                inputs, labels = split.batch(chunk)
                inputs, labels = ctx.dist.to_device(inputs, labels)
                cams, preds = rc.attributions(ctx, m, layer, inputs, labels)
                for i, (y, p) in enumerate(zip(labels.tolist(), preds.tolist())):
                    k = seen[y] = seen.get(y, 0) + 1
                    head = "" if final else f"epoch {epoch}: "
                    img = rc.panel(inputs[m][i].detach().cpu(), cams[i], f"{head}true {names[y]} / pred {names[p]}")
                    if final:
                        self._write_png(self.figures / "gradcam" / m / f"{rc.file_stem(y, names[y], k)}.png", img)
                    panels.append(img)
            sheets.append(rc.grid(panels, per_class))
            self._write_png(self.figures / "gradcam" / f"{m}.png" if final else self.gradcam_sheet(m, epoch),
                            sheets[-1])
            if not (final and self.gradcam_sheet(m, epoch).is_file()):   # that step has it already
                self.writer().add_image(f"review/gradcam_{m}", sheets[-1], self.step(epoch), dataformats="HWC")
        if final:
            where, which = "figures/gradcam/", f"best checkpoint, epoch {epoch}"
        else:
            where, which = f"figures/gradcam-epoch{epoch:03d}.png", f"epoch {epoch}"
            self._write_png(self.figures / f"gradcam-epoch{epoch:03d}.png", rc.stack(sheets))
        self.report.log(events.Log(level="info",
                  message=f"review: Grad-CAM of {'; '.join(layers)}, "
                          f"{len(chosen)} test samples ({per_class} per class, {which}): {where} "
                          f"({time.perf_counter() - tick:.1f} s)"))

    def gradcam_sheet(self, modality: str, epoch: int) -> Path:
        """The Grad-CAM sheet of `modality` drawn after `epoch` (by this process or the one a
        resumed run continues)."""
        return self.figures / "gradcam" / f"{modality}-epoch{epoch:03d}.png"

    def _write_png(self, path: Path, img) -> None:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        self._write(path, buf.getvalue())

    def _write(self, path: Path, data: bytes) -> None:
        writes.make_folders(path.parent, self.run_dir)
        with writes.atomic_open(path) as fh:
            fh.write(data)


def earlier_projector_config(logdir: Path):
    """The projector entries already in `logdir` (an earlier process of a resumed run), as the
    ProjectorConfig torch's SummaryWriter extends; an unreadable file counts as none."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    config = ProjectorConfig()
    path = Path(logdir) / "projector_config.pbtxt"
    try:
        text_format.Merge(path.read_text(encoding="utf-8"), config)
    except (OSError, UnicodeDecodeError, text_format.ParseError):
        return ProjectorConfig()
    return config
