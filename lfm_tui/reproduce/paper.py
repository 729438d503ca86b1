"""The paper's reported numbers (paper.toml beside this module), read once and checked: every
entry names its table, row, column, dataset, metric and part, with a value in [0, 100] and,
where the paper gives one, a standard deviation. A file that breaks any of this is a
PaperFileError naming the entry, so a mistyped number cannot reach a report silently."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from engine.contract import untrusted
from engine.contract.errors import UserError

PAPER_FILE = Path(__file__).with_name("paper.toml")
MAX_BYTES = 256 * 1024
MAX_ENTRIES = 2000
TABLES = ("table1", "table2", "table3", "table4", "table5", "section4.4")
METRICS = ("acc", "map", "f1")
DATASETS = ("kinetics_sounds", "cremad", "sarcasm", "twitter2015", "nvgesture", "vggsound")
_TEXT_KEYS = ("table", "row", "column", "dataset", "metric", "part")
_KEYS = {*_TEXT_KEYS, "value", "std", "modality"}


class PaperFileError(UserError):
    """paper.toml unreadable or holding an entry of the wrong shape."""


@dataclass(frozen=True)
class Number:
    table: str
    row: str
    column: str
    dataset: str
    metric: str        # acc, map, f1
    part: str          # fused, a modality's name, or gap
    value: float       # in %
    std: float | None = None
    modality: str = ""  # a unimodal model's modality (Table 1's Unimodal-k rows)


def _number(i: int, e: object, where: str) -> Number:
    if not isinstance(e, dict):
        raise PaperFileError(f"{where}: entry {i + 1} is not a table")
    unknown = sorted(set(e) - _KEYS)
    missing = [k for k in (*_TEXT_KEYS, "value") if k not in e]
    if unknown or missing:
        raise PaperFileError(f"{where}: entry {i + 1}: " + "; ".join(
            ([f"unknown keys {', '.join(unknown)}"] if unknown else []) +
            ([f"missing {', '.join(missing)}"] if missing else [])))
    bad = [k for k in (*_TEXT_KEYS, "modality") if k in e and not (isinstance(e[k], str) and 0 < len(e[k]) <= 80)]
    for k in ("value", "std"):
        v = e.get(k, 0.0)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or not 0 <= v <= 100:
            bad.append(k)
    if e.get("table") not in TABLES or e.get("metric") not in METRICS or e.get("dataset") not in DATASETS:
        bad += [k for k, ok in (("table", TABLES), ("metric", METRICS), ("dataset", DATASETS)) if e.get(k) not in ok]
    if bad:
        raise PaperFileError(f"{where}: entry {i + 1} ({e.get('table')}, {e.get('row')}, {e.get('dataset')}): "
                             f"bad {', '.join(dict.fromkeys(bad))}")
    return Number(e["table"], e["row"], e["column"], e["dataset"], e["metric"], e["part"], float(e["value"]),
                  float(e["std"]) if "std" in e else None, e.get("modality", ""))


def read(path: Path = PAPER_FILE) -> list[Number]:
    """Every number of the file, checked; PaperFileError otherwise (also for two entries of the
    same table, row, dataset, metric and part)."""
    try:
        data = untrusted.toml_loads(untrusted.read_text(path, MAX_BYTES), max_depth=4)
    except (OSError, ValueError) as exc:
        raise PaperFileError(f"{path}: unreadable ({exc})") from None
    entries = data.get("numbers")
    if not isinstance(entries, list) or not 0 < len(entries) <= MAX_ENTRIES:
        raise PaperFileError(f"{path}: expected `numbers`, a list of 1 to {MAX_ENTRIES} entries")
    out = [_number(i, e, str(path)) for i, e in enumerate(entries)]
    seen: set[tuple] = set()
    for n in out:
        key = (n.table, n.row, n.dataset, n.metric, n.part)
        if key in seen:
            raise PaperFileError(f"{path}: {', '.join(key)} is given twice")
        seen.add(key)
    return out


@functools.cache
def numbers() -> tuple[Number, ...]:
    """The package's paper.toml, read once."""
    return tuple(read())


def lookup(table: str, row: str, dataset: str, metric: str, part: str = "fused") -> Number | None:
    """The paper's number of one cell, or None where the paper gives none."""
    for n in numbers():
        if (n.table, n.row, n.dataset, n.metric, n.part) == (table, row, dataset, metric, part):
            return n
    return None


def cells(table: str, row: str, dataset: str) -> list[Number]:
    """The paper's numbers of one row on one dataset, in the file's order."""
    return [n for n in numbers() if (n.table, n.row, n.dataset) == (table, row, dataset)]
