"""The comparison table as files: Markdown, CSV and JSON (`lfm compare --out`, a sweep's
summary). The table itself is lfm_tui/compare.py's."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from engine.contract import writes
from lfm_tui.compare import Row, Run, columns, table_rows


def to_markdown(rows: list[Row]) -> str:
    head, body = table_rows(rows)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    lines += ["| " + " | ".join(b) + " |" for b in body]
    return "\n".join(lines) + "\n"


def to_csv(rows: list[Row]) -> str:
    cols = columns(rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["method", "seeds", "n", *(f"{k}_{s}" for k, _ in cols for s in ("mean", "std"))])
    for r in rows:
        vals = []
        for k, _ in cols:
            s = None if (k == "gap" and len(r.modalities) < 2) else r.stat(k)
            vals += ["", ""] if s is None else [f"{s[0]:.4f}", "" if s[1] is None else f"{s[1]:.4f}"]
        w.writerow([r.label, " ".join(map(str, r.seeds)), len(r.runs), *vals])
    return buf.getvalue()


def to_json(rows: list[Row], runs: list[Run]) -> dict:
    cols = columns(rows)
    return {
        "rows": [{"label": r.label, "config": r.config, "seeds": r.seeds,
                  "runs": [str(x.path) for x in r.runs],
                  "metrics": {k: (dict(zip(("mean", "std"), r.stat(k))) if r.stat(k) else None)
                              for k, _ in cols if not (k == "gap" and len(r.modalities) < 2)}}
                 for r in rows],
        "not_finished": [{"run": str(r.path), "status": r.status} for r in runs if r.status != "ok"],
    }


def write_outputs(prefix: Path, rows: list[Row], runs: list[Run], title: str = "") -> list[Path]:
    """PREFIX.md, PREFIX.csv and PREFIX.json."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    md = (f"{title}\n\n" if title else "") + to_markdown(rows)
    out = []
    for suffix, text in ((".md", md), (".csv", to_csv(rows)),
                         (".json", json.dumps(to_json(rows, runs), indent=2) + "\n")):
        path = prefix.with_name(prefix.name + suffix)
        writes.write_atomic(path, text)
        out.append(path)
    return out
