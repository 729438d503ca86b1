"""`python -m lfm_plot FOLDERS... [--out DIR] [--format png|svg] [--dpi N] [--size WxH]
[--figures curves,bars] [--prefix NAME] [--label FOLDER=TEXT ...]`: what `lfm plot` runs.
Exit status 0 written, 1 a file could not be written, 2 bad input (one line on stderr, no
traceback)."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from engine.contract import layout, writes
from lfm_plot.series import PlotError

FORMATS = ("png", "svg")
FIGURES = ("curves", "bars")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        raise PlotError(f"lfm plot: {message}")


def parse(argv: list[str]) -> argparse.Namespace:
    p = _Parser(prog="lfm plot", description="Figures of finished runs: curves and bars.")
    p.add_argument("folders", nargs="+", type=Path, help="run folders, or folders holding them (a sweep)")
    p.add_argument("--out", type=Path, help="folder of the figures (default: the sweep or seed folder given)")
    p.add_argument("--format", default="png", help="png or svg")
    p.add_argument("--dpi", type=int, default=100, help="pixels per inch (20 to 600)")
    p.add_argument("--size", help="WxH in inches, e.g. 12x8 (default: from the number of panels and rows)")
    p.add_argument("--figures", default="curves,bars", help="which figures: curves, bars or both")
    p.add_argument("--prefix", default="", help="put before each file name, e.g. fashion_")
    p.add_argument("--label", action="append", default=[], metavar="FOLDER=TEXT",
                   help="label the row of the runs at or below FOLDER (repeat for more rows)")
    a = p.parse_args(argv)
    if a.format not in FORMATS:
        raise PlotError(f"--format: expected one of {', '.join(FORMATS)}, found {a.format!r}")
    if not 20 <= a.dpi <= 600:
        raise PlotError(f"--dpi: expected 20 to 600, found {a.dpi}")
    a.size = _size(a.size)
    a.figures = [f.strip() for f in a.figures.split(",") if f.strip()]
    if not a.figures or any(f not in FIGURES for f in a.figures):
        raise PlotError(f"--figures: expected a comma-separated list of {', '.join(FIGURES)}, found {a.figures!r}")
    if not re.fullmatch(r"[\w.-]*", a.prefix):
        raise PlotError(f"--prefix: expected letters, digits, '_', '-' or '.', found {a.prefix!r}")
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

    rows, runs = load_rows(a.folders)
    relabel(rows, a.label)
    skipped = [{"run": str(r.path), "status": r.status} for r in runs if r.status != "ok"]
    files: list[tuple[str, object]] = []
    if "curves" in a.figures:
        panels = curve_panels(rows)
        doc = {"x": "epoch (alpha: epoch - 1 + step / steps per epoch)", "panels": [
            {"key": p.key, "title": p.title, "rows": [
                {"label": rows[i].label, "seeds": rows[i].seeds, "x": s.x, "mean": s.mean, "std": s.std, "n": s.n}
                for i, s in sorted(p.series.items())]} for p in panels], "not_finished": skipped}
        files += [(f"{a.prefix}curves.{a.format}", figures.curves(rows, panels, a.size, a.dpi)),
                  (f"{a.prefix}curves.json", doc)]
    if "bars" in a.figures:
        metrics = bar_metrics(rows)
        doc = {"metrics": [{"key": k, "name": n} for k, n in metrics],
               "rows": [{"label": r.label, "seeds": r.seeds, "runs": [str(x.path) for x in r.runs],
                         "values": {k: _jsonable(v[k]) for k, _ in metrics}}
                        for r, v in zip(rows, bar_values(rows))], "not_finished": skipped}
        files += [(f"{a.prefix}bars.{a.format}", figures.bars(rows, a.size, a.dpi)), (f"{a.prefix}bars.json", doc)]
    return files


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
