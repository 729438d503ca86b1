"""`python -m lfm_plot.gradcam_epochs SPEC_JSON OUT_PNG`: the paper's Figure 4 as `lfm reproduce
fig4` writes its parts (fig4-<dataset>.json: a title, and rows, each a label and its images, each
an epoch and the path of a Grad-CAM sheet the engine drew after that epoch): each row's sheets
side by side, epoch by epoch, the rows one beside the other, at the sheets' own pixels. Exit
status 0 written, 1 the PNG could not be written, 2 bad input (one line on stderr)."""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure


MAX_IMAGES = 24
MAX_IMAGE_BYTES = 32 << 20
MAX_PIXELS = 40_000_000     # of the composed figure
DPI = 100


def _spec(data: object) -> tuple[str, list[tuple[str, list[tuple[int, Path]]]]]:
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list) or not data["rows"]:
        raise ValueError("expected an object with rows")
    rows, count = [], 0
    for i, row in enumerate(data["rows"]):
        images = row.get("images") if isinstance(row, dict) else None
        if not isinstance(row.get("label") if isinstance(row, dict) else None, str) or not isinstance(images, list):
            raise ValueError(f"rows[{i}]: expected a label and images")
        got = []
        for img in images:
            if not (isinstance(img, dict) and type(img.get("epoch")) is int and isinstance(img.get("path"), str)):
                raise ValueError(f"rows[{i}]: expected images with an epoch and a path")
            got.append((img["epoch"], Path(img["path"])))
        count += len(got)
        if count > MAX_IMAGES:
            raise ValueError(f"more than {MAX_IMAGES} images")
        rows.append((row["label"], got))
    return str(data.get("title", "")), rows


def _read(path: Path):
    """A sheet as an array: a PNG file of bounded size (Pillow refuses decompression bombs)."""
    import matplotlib.image as mpimg

    if not path.is_file() or path.is_symlink():
        raise ValueError(f"{path}: not a file")
    if path.stat().st_size > MAX_IMAGE_BYTES:
        raise ValueError(f"{path}: larger than {MAX_IMAGE_BYTES >> 20} MB")
    try:
        return mpimg.imread(path, format="png")
    except Exception as exc:  # Pillow's errors of a damaged or oversized image
        raise ValueError(f"{path}: not a readable PNG ({type(exc).__name__})") from None


def draw(title: str, rows: list[tuple[str, list[tuple[int, Path]]]]) -> Figure:
    """Each row a block of its sheets left to right, under the row's label; a sheet's column
    headed by its epoch."""
    pictures = [[(e, _read(p)) for e, p in images] for _, images in rows]
    heights = [a.shape[0] for row in pictures for _, a in row] or [100]
    widths = [sum(a.shape[1] for _, a in row) or 100 for row in pictures]
    w_px, h_px = sum(widths) + 40 * len(rows), max(heights) + 90
    if w_px * h_px > MAX_PIXELS:
        raise ValueError(f"the composed figure would be {w_px} x {h_px} pixels")
    with matplotlib.rc_context({"font.size": 11}):
        fig = Figure(figsize=(w_px / DPI, h_px / DPI), dpi=DPI, layout="constrained")
        if title:
            fig.suptitle(title, fontsize=13)
        blocks = fig.subfigures(1, len(rows), width_ratios=widths, squeeze=False)[0]
        for block, (label, _), row in zip(blocks, rows, pictures):
            block.suptitle(label, fontsize=12)
            if not row:
                block.text(0.5, 0.5, "no epoch drawn", ha="center", va="center")
                continue
            axes = block.subplots(1, len(row), squeeze=False, width_ratios=[a.shape[1] for _, a in row])[0]
            for ax, (epoch, a) in zip(axes, row):
                ax.imshow(a, interpolation="nearest")
                ax.set_title(f"epoch {epoch}", fontsize=11)
                ax.set_axis_off()
    return fig


def main(argv: list[str]) -> int:
    from lfm_plot.figures import spec_command

    return spec_command(argv, "python -m lfm_plot.gradcam_epochs SPEC_JSON OUT_PNG", lambda spec: draw(*_spec(spec)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
