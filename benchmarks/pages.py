"""What the results generators share: their runs as `lfm reproduce` calls, one per configuration
of a page, each into a folder of its own (the same call again continues it), the finished runs
below such a folder, mean ± std, writing a generated block between a page's
results markers (the rest of the page is kept), and a partial regeneration's edits of a page
written before: its table rows read by their first cell, the rows rerun put in place of theirs,
every other row carried over as it stands, and a header line that says which is which."""
from __future__ import annotations

import json
import re
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:   # the package's modules (made_by_sweep), the scripts run from anywhere
    sys.path.insert(0, str(ROOT))

START, END = "<!-- results:start -->", "<!-- results:end -->"

# The LFM paper's Table 1, test ACC in % on KineticsSounds, CREMA-D, Sarcasm, Twitter2015 and
# NVGesture ("-": left blank there), quoted beside each method for orientation only: other
# datasets, encoders and budgets than the built-in ones.
TABLE1 = {
    "concat": ("64.55", "63.31", "82.86", "70.11", "81.33"),
    "film": ("64.24", "66.26", "82.47", "72.03", "82.78"),
    "mmtm": ("63.51", "66.13", "-", "-", "81.54"),
    "ml_lstm": ("63.84", "62.94", "82.05", "70.68", "83.20"),
    "sum": ("64.97", "63.44", "82.94", "73.12", "82.99"),
    "weight": ("65.33", "66.53", "82.65", "72.42", "83.42"),
    "etmc": ("65.67", "65.86", "83.69", "73.96", "83.61"),
    "mses": ("64.71", "61.56", "84.18", "71.84", "81.12"),
    "gblend": ("67.12", "64.65", "83.35", "74.35", "82.99"),
    "ogm_ge": ("66.06", "66.94", "83.23", "74.92", "-"),
    "greedy": ("66.52", "66.64", "-", "-", "82.74"),
    "domfn": ("66.25", "67.34", "83.56", "74.45", "-"),
    "mslr": ("65.91", "65.46", "84.23", "72.52", "82.86"),
    "pmr": ("66.56", "66.59", "83.61", "74.25", "-"),
    "agm": ("66.02", "67.07", "84.28", "74.83", "82.78"),
    "mla": ("70.04", "79.43", "84.26", "73.52", "83.73"),
    "reconboost": ("70.85", "74.84", "84.37", "74.42", "84.13"),
    "mmpareto": ("70.00", "74.87", "83.48", "73.58", "83.82"),
    "lfm": ("69.05", "72.15", "84.12", "73.87", "83.24"),
}
TABLE1_DATASETS = ("KS", "CREMA-D", "Sarcasm", "Twitter15", "NVGesture")
# the paper's audio-visual columns (KineticsSounds, CREMA-D): those quoted beside an audio-visual dataset
AUDIO_VISUAL = (0, 1)


def table1_head(columns: tuple[int, ...] = tuple(range(len(TABLE1_DATASETS)))) -> str:
    """The head of the column that quotes Table 1, of some of its datasets."""
    return f"Table 1 ACC ({' / '.join(TABLE1_DATASETS[i] for i in columns)})"


TABLE1_HEAD = table1_head()   # "Table 1 ACC (KS / CREMA-D / Sarcasm / Twitter15 / NVGesture)"


def table1(method: str, columns: tuple[int, ...] = tuple(range(len(TABLE1_DATASETS)))) -> str:
    """The paper's Table 1 ACCs of a method as one cell, of some of its datasets ("" for a method
    it does not list)."""
    row = TABLE1.get(method)
    return " / ".join(row[i] for i in columns) if row else ""


def reproduce_args(experiment: str, dataset: str, rows: list[str], seeds: str, out: Path,
                   overrides: list[str] = ()) -> list[str]:
    """The `lfm reproduce` arguments of one configuration of a page: some rows of one of the
    paper's experiments on one built-in dataset, into a folder of their own (the page reads the
    finished runs below it)."""
    return [experiment, "--data", dataset, "--rows", ",".join(rows), "--seeds", seeds, "--out", str(out),
            *overrides]


def shown(args: list[str]) -> str:
    """An `lfm reproduce` call as a reader types it from the repository root."""
    return " ".join(["lfm", "reproduce", *args]).replace(str(ROOT) + "/", "")


def made_by_sweep(out: Path) -> bool:
    """A configuration's folder made by `lfm sweep`, before the pages' runs were `lfm reproduce`
    calls: its runs are read as they stand; `lfm reproduce` does not write into it."""
    from engine.contract import layout
    from lfm_tui.reproduce import planning

    return layout.is_sweep(out) and not planning.is_reproduction(out)


def run_reproduce(args: list[str], jobs: int = 1, threads: int | None = None, quiet: bool = False) -> int:
    """`lfm reproduce ARGS --jobs JOBS [--cpus-per-run THREADS]` (ARGS from `reproduce_args`): the
    same call again continues the reproduction (finished runs skipped). Its exit status; a
    folder `made_by_sweep` is left as it is (said), 0."""
    out = Path(args[args.index("--out") + 1])
    if made_by_sweep(out):
        print(f"{out}: made by lfm sweep; its runs are read as they stand (remove the folder to run them again "
              "through lfm reproduce)", flush=True)
        return 0
    run = ["reproduce", *args, "--jobs", str(jobs)] + (["--cpus-per-run", str(threads)] if threads else [])
    return subprocess.call([sys.executable, "-c", "from lfm_tui.cli import main; main()", *run], cwd=ROOT,
                           stdout=subprocess.DEVNULL if quiet else None)


def finished_runs(folder: Path) -> list[dict]:
    """summary.json of every finished run under a folder, with its folder (`dir`)."""
    out = []
    for s in sorted(Path(folder).rglob("summary.json")):
        try:
            d = json.loads(s.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(d, dict) and d.get("status") == "ok" and d.get("test"):
            d["dir"] = s.parent
            out.append(d)
    return out


def mean_sd(xs: list[float]) -> str:
    if not xs:
        return "–"
    if len(xs) == 1:
        return f"{xs[0]:.2f}"
    return f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}"


def write_results(page: Path, text: str) -> None:
    """`text` between the page's results markers (a new page holds only the markers)."""
    old = page.read_text(encoding="utf-8") if page.is_file() else f"{START}\n{END}\n"
    if START not in old or END not in old:
        sys.exit(f"{page}: the results markers {START} / {END} are missing")
    head, rest = old.split(START, 1)
    tail = rest.split(END, 1)[1]
    page.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")
    print(f"wrote {page}")


# ---- partial regeneration: a page written before, some of its rows rerun ----

MAX_PAGE = 1_000_000  # characters of a page read back


class PageError(Exception):
    """The page a partial regeneration edits lacks what it needs (a table, a row, a section)."""


def read_page(page: Path) -> str:
    """The page a partial regeneration edits, bounded in size."""
    if not page.is_file():
        raise PageError(f"{page}: no such page; a partial regeneration (--methods) edits a page written before")
    if page.stat().st_size > MAX_PAGE:
        raise PageError(f"{page}: over {MAX_PAGE} bytes, not a page these generators wrote")
    return page.read_text(encoding="utf-8")


def cells(line: str) -> list[str]:
    """The cells of a markdown table row, stripped: '| a | b |' -> ['a', 'b']."""
    return [c.strip() for c in line.strip()[1:-1].split("|")]


def row_label(line: str) -> str | None:
    """A markdown table row's first cell (its label); None for a line that is no table row and
    for the separator row under a table's header."""
    s = line.strip()
    if len(s) < 2 or not (s.startswith("|") and s.endswith("|")):
        return None
    first = cells(s)
    return None if all(c and set(c) <= set("-: ") for c in first) else first[0]


def table_rows(text: str, head: str) -> dict[str, str]:
    """The body rows of the table whose header line is `head` (exactly), by label, in page
    order. PageError where the table is missing or two rows share a label."""
    lines = text.splitlines()
    try:
        i = [ln.strip() for ln in lines].index(head.strip())
    except ValueError:
        first = cells(head)[0] if head.strip().startswith("|") else None
        found = [ln.strip() for ln in lines if first and row_label(ln) == first]
        if found:   # the same table, written when its columns were others
            raise PageError(f"the page's table has the header {found[0]!r}, not {head!r} as written now "
                            "(its columns changed since the page was made): regenerate the section whole, "
                            "without --methods") from None
        raise PageError(f"no table with the header {head!r}") from None
    rows: dict[str, str] = {}
    for line in lines[i + 2:]:  # past the header and its separator
        label = row_label(line)
        if label is None:
            break
        if label in rows:
            raise PageError(f"two rows labelled {label!r} in the table {head!r}")
        rows[label] = line
    return rows


def merge_rows(old: dict[str, str], new: dict[str, str], rerun: list[str]) -> list[str]:
    """The table's rows after a partial regeneration: in the old page's order, the rows labelled
    in `rerun` taken from `new` and every other row from `old` unchanged; a rerun row the old
    page lacks goes last. PageError where a rerun row has no new line (its runs gave none)."""
    missing = [lab for lab in rerun if lab not in new]
    if missing:
        raise PageError(f"rows {', '.join(missing)} were to be regenerated but their runs gave no row "
                        "(a sweep did not finish?)")
    return [new[lab] if lab in rerun else line for lab, line in old.items()] + \
        [new[lab] for lab in rerun if lab not in old]


def replace_rows(text: str, head: str, rows: list[str]) -> str:
    """`text` with the body of the table headed `head` replaced by `rows`."""
    old = table_rows(text, head)
    lines = text.splitlines()
    i = [ln.strip() for ln in lines].index(head.strip())
    return "\n".join([*lines[:i + 2], *rows, *lines[i + 2 + len(old):]]) + ("\n" if text.endswith("\n") else "")


def bash_lines(text: str) -> list[str]:
    """The lines of the first ```bash block of `text` ([] where it has none)."""
    lines = text.splitlines()
    if "```bash" not in lines:
        return []
    i = lines.index("```bash")
    end = lines.index("```", i + 1) if "```" in lines[i + 1:] else len(lines)
    return lines[i + 1:end]


def replace_bash(text: str, commands: list[str]) -> str:
    """`text` with its first ```bash block holding `commands`."""
    lines = text.splitlines()
    i = lines.index("```bash")
    end = lines.index("```", i + 1)
    return "\n".join([*lines[:i + 1], *commands, *lines[end:]]) + ("\n" if text.endswith("\n") else "")


def merged_commands(old: list[str], new: list[str]) -> list[str]:
    """The earlier generation's commands, then this regeneration's that are not among them."""
    return old + [c for c in new if c not in old]


def command_line(script: str, argv: list[str]) -> str:
    """How this regeneration was invoked, as a shell line: --report-only left out (the command
    that runs what the page shows), the reason given to --why shown as "…" (the page states it
    beside the command)."""
    shown, skip = [], False
    for arg in argv:
        if skip:
            shown.append('"…"')
            skip = False
        elif arg == "--why":
            shown.append(arg)
            skip = True
        elif arg.startswith("--why="):
            shown.append('--why="…"')
        elif arg != "--report-only":
            shown.append(shlex.quote(arg))
    return " ".join(["python", script, *shown])


def provenance(rerun: str, date: str, command: str, old_header: str, why: str) -> str:
    """The header sentence of a partially regenerated table: what was rerun (`rerun`, e.g.
    "rows mmtm, reconboost"), when and by which command, and that every other row is the
    earlier generation's (the dates `old_header` names; where it is the header of a partial
    regeneration of the same rows, the dates of the rows it carried), and why it holds."""
    again = re.search(r"Partial regeneration: (.*?) regenerated \d{4}-\d{2}-\d{2} by .*? carried over unchanged "
                      r"from the earlier generations? \(([^)]*)\)", old_header)
    if again and again.group(1) == rerun:  # the same rows rerun again: the others are as old as they were
        dates = again.group(2).split(", ")
    else:
        dates = sorted(set(re.findall(r"\b\d{4}-\d{2}-\d{2}\b", old_header)))
    earlier = f"the earlier generation{'s' if len(dates) > 1 else ''} ({', '.join(dates)})" if dates \
        else "the earlier generation"
    return (f"Partial regeneration: {rerun} regenerated {date} by `{command}`; every other "
            f"row carried over unchanged from {earlier}: {why.strip().rstrip('.')}.")


def sections(text: str) -> dict[str, str]:
    """A page's `## ` sections by the heading's first word, each as written (without the blank
    lines that separate it from the next)."""
    out = {}
    for part in re.split(r"(?m)^(?=## )", text)[1:]:
        words = part.split("\n", 1)[0].split()
        if len(words) > 1:
            out[words[1]] = part.rstrip("\n") + "\n"
    return out
