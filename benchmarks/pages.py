"""What the results generators share: the finished runs of a sweep folder, mean ± std, and
writing a generated block between a page's results markers (the rest of the page is kept)."""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

START, END = "<!-- results:start -->", "<!-- results:end -->"


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
