"""`python -m lfm_plot FOLDERS... [--out DIR] [--style draft|paper] [--format png|svg|pdf] [--dpi N]
[--columns 1|2 | --size WxH] [--bars auto|bars|dots] [--figures curves,bars] [--prefix NAME]
[--label FOLDER=TEXT ...]`, or `python -m lfm_plot --from FILE.json [the same options]` (the
figure of a JSON file written beside one, drawn again: lfm_plot/redraw.py): what `lfm plot` runs.
Exit status 0 written, 1 a file could not be written, 2 bad input (one line on stderr, no
traceback)."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from engine.contract import layout, writes
from lfm_plot.figures import KINDS, SPREAD
from lfm_plot.series import PlotError
from lfm_plot.style import STYLES

FORMATS = ("png", "svg", "pdf")
FIGURES = ("curves", "bars")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise PlotError(f"lfm plot: {message}")


def parse(argv: list[str]) -> argparse.Namespace:
    p = _Parser(prog="lfm plot", description="Figures of finished runs: curves and bars.")
    p.add_argument("folders", nargs="*", type=Path, help="run folders, or folders holding them (a sweep)")
    p.add_argument("--from", dest="source", type=Path, help="draw again the figure of this JSON file (the "
                   "curves.json or bars.json written beside one) instead of reading runs; written as "
                   "PREFIX + its name + .FORMAT, into --out or beside it")
    p.add_argument("--out", type=Path, help="folder of the figures (default: the sweep or seed folder given)")
    p.add_argument("--style", default="draft", help="draft (screen) or paper (print: 8-point type, "
                   "colour-blind-safe colours, PDF or 300 dpi)")
    p.add_argument("--format", help="png, svg or pdf (default: png for draft, pdf for paper)")
    p.add_argument("--dpi", type=int, help="pixels per inch of a PNG, 20 to 600 (default: 150 draft, 300 paper)")
    p.add_argument("--columns", type=int, help="width of one (3.25 in) or two (6.75 in) columns of a paper; "
                   "the height follows the panels and rows (paper: 2 unless --size)")
    p.add_argument("--size", help="WxH in inches, e.g. 12x8 (default: from the number of panels and rows)")
    p.add_argument("--bars", default="auto", help="test ACC as bars from zero, as dots with intervals, "
                   f"or auto: dots where the rows' means differ by less than {SPREAD:g} points in a metric")
    p.add_argument("--figures", default="curves,bars", help="which figures: curves, bars or both")
    p.add_argument("--prefix", default="", help="put before each file name, e.g. fashion_")
    p.add_argument("--label", action="append", default=[], metavar="FOLDER=TEXT",
                   help="label the row of the runs at or below FOLDER (repeat for more rows)")
    a = p.parse_args(argv)
    if a.style not in STYLES:
        raise PlotError(f"--style: expected one of {', '.join(STYLES)}, found {a.style!r}")
    a.style = STYLES[a.style]
    a.format = a.style.format if a.format is None else a.format
    a.dpi = a.style.dpi if a.dpi is None else a.dpi
    if a.format not in FORMATS:
        raise PlotError(f"--format: expected one of {', '.join(FORMATS)}, found {a.format!r}")
    if a.columns not in (None, 1, 2):
        raise PlotError(f"--columns: expected 1 or 2, found {a.columns}")
    if a.columns and a.size:
        raise PlotError("--columns and --size: give one of them (--columns sets the width, --size both sides)")
    if a.style.name == "paper" and not (a.columns or a.size):
        a.columns = 2  # the text width of a paper
    if a.bars not in KINDS:
        raise PlotError(f"--bars: expected one of {', '.join(KINDS)}, found {a.bars!r}")
    if not 20 <= a.dpi <= 600:
        raise PlotError(f"--dpi: expected 20 to 600, found {a.dpi}")
    a.size = _size(a.size)
    a.figures = [f.strip() for f in a.figures.split(",") if f.strip()]
    if not a.figures or any(f not in FIGURES for f in a.figures):
        raise PlotError(f"--figures: expected a comma-separated list of {', '.join(FIGURES)}, found {a.figures!r}")
    if not re.fullmatch(r"[\w.-]*", a.prefix):
        raise PlotError(f"--prefix: expected letters, digits, '_', '-' or '.', found {a.prefix!r}")
    if a.source is not None:
        if a.folders or a.label:
            raise PlotError("--from: give run folders (with --label) or --from FILE, not both")
        a.out = _out(a.out or a.source.parent, [])
    elif not a.folders:
        raise PlotError("lfm plot: give run folders, or a JSON file of a figure with --from FILE")
    else:
        a.out = _out(a.out, a.folders)
    return a


def _size(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[xX]\s*(\d+(?:\.\d+)?)\s*", text)
    if not m or not (1 <= float(m[1]) <= 100 and 1 <= float(m[2]) <= 100):
        raise PlotError(f"--size: expected WxH in inches, each 1 to 100 (e.g. 12x8), found {text!r}")
    return float(m[1]), float(m[2])


def _out(out: Path | None, folders: list[Path]) -> Path:
    if out is None:
        if len(folders) == 1 and layout.is_sweep(folders[0]):
            out = folders[0]  # beside the summary tables `lfm run --seeds` and `lfm sweep` write there
        else:
            raise PlotError("give the folder of the figures with --out DIR (without it, the figures go into "
                            "the sweep or seed folder given alone)")
    if out.exists() and not out.is_dir():
        raise PlotError(f"{out}: not a folder (--out is the folder the figures are written into)")
    return out


def _jsonable(values):
    return None if values is None else {"mean": values[0], "std": values[1]}


def build(a: argparse.Namespace) -> list[tuple[str, object]]:
    """(file name, figure or JSON document) of every file to write; nothing is written yet, so
    a damaged run stops the command before any file changes."""
    from lfm_plot import figures
    from lfm_plot.series import bar_metrics, bar_values, curve_panels, load_rows, relabel

    if a.source is not None:
        return [(f"{a.prefix}{a.source.stem}.{a.format}", redrawn(a))]
    rows, runs = load_rows(a.folders)
    relabel(rows, a.label)
    skipped = [{"run": str(r.path), "status": r.status} for r in runs if r.status != "ok"]
    files: list[tuple[str, object]] = []
    if "curves" in a.figures:
        panels = curve_panels(rows)
        doc = {"x": "epoch (alpha: at the start of a step, epoch - 1 + (step - 1) / steps per epoch, held until "
                    "the next; until: the end of its last step)", "panels": [
            {"key": p.key, "title": p.title, "rows": [
                {"label": rows[i].label, "seeds": rows[i].seeds, "x": s.x, "mean": s.mean, "std": s.std, "n": s.n,
                 **({"until": s.until} if p.steps else {})}
                for i, s in sorted(p.series.items())]} for p in panels], "not_finished": skipped}
        fig = figures.curves(rows, panels, style=a.style, size=a.size, columns=a.columns, dpi=a.dpi)
        files += [(f"{a.prefix}curves.{a.format}", fig),
                  (f"{a.prefix}curves.json", doc)]
    if "bars" in a.figures:
        metrics = bar_metrics(rows)
        kind = figures.bar_kind(rows) if a.bars == "auto" else a.bars
        doc = {"kind": kind, "metrics": [{"key": k, "name": n} for k, n in metrics],
               "rows": [{"label": r.label, "seeds": r.seeds, "runs": [str(x.path) for x in r.runs],
                         "values": {k: _jsonable(v[k]) for k, _ in metrics}}
                        for r, v in zip(rows, bar_values(rows))], "not_finished": skipped}
        fig = figures.bars(rows, style=a.style, size=a.size, columns=a.columns, dpi=a.dpi, kind=kind)
        files += [(f"{a.prefix}bars.{a.format}", fig), (f"{a.prefix}bars.json", doc)]
    return files


def redrawn(a: argparse.Namespace):
    """The figure of the JSON file `--from` names, drawn with this style and size."""
    from lfm_plot import figures, redraw

    d = redraw.read(a.source)
    how = {"style": a.style, "size": a.size, "columns": a.columns, "dpi": a.dpi}
    if d.figure == "curves":
        return figures.draw_curves(d.labels, d.panels, **how)
    kind = a.bars if a.bars != "auto" else d.kind or "auto"  # the file's kind where it says, as drawn
    return figures.draw_bars(d.labels, d.metrics, d.values, kind=kind, **how)


def write(out: Path, files: list[tuple[str, object]], fmt: str) -> list[Path]:
    from lfm_plot import figures

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, item in files:
        path = out / name
        if isinstance(item, dict):
            writes.write_atomic(path, json.dumps(item, indent=1) + "\n")
        else:
            with writes.atomic_open(path) as fh:
                figures.save(item, fh, fmt)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    try:
        a = parse(sys.argv[1:] if argv is None else argv)
        files = build(a)
    except PlotError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    try:
        written = write(a.out, files, a.format)
    except writes.LinkRefused as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"could not write {exc.filename or a.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print("written: " + ", ".join(map(str, written)))
    left = next((doc["not_finished"] for _, doc in files if isinstance(doc, dict)), [])
    if left:
        print("not finished, left out: " + ", ".join(f"{r['run']} ({r['status']})" for r in left))
    return 0


if __name__ == "__main__":
    sys.exit(main())
