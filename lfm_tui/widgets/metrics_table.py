"""Validation ACC / MAP / macro-F1 per modality and fused, the best so far, the accuracy gap and
the feature gap (engine/contract/gaps.py)."""
from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widgets import DataTable

from engine.contract import gaps as names

METRICS = ("acc", "map", "f1")


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


def validation_rows(val_history: list[dict], modalities: Sequence[str], test: dict | None,
                    best: dict | None) -> tuple[str, list[tuple]]:
    """The table's title and rows for a run's validations (oldest first), its modalities, its
    test of best.pt and the engine's best epoch: ("validation", []) before the first."""
    if not val_history:
        return "validation", []
    last = val_history[-1]
    picks = [("fused", lambda r: r.get("fused") or {})]
    picks += [(m, lambda r, m=m: (r.get("modalities") or {}).get(m) or {}) for m in modalities]
    rows: list[tuple] = []
    for name, pick in picks:
        now = pick(last)
        best_so_far = [max((pick(r).get(k, float("-inf")) for r in val_history), default=None) for k in METRICS]
        rows.append((Text(str(name)), *(_fmt(now.get(k)) for k in METRICS), *(_fmt(b) for b in best_so_far)))
    gaps = [r.get("gap") for r in val_history if r.get("gap") is not None]
    rows.append((names.accuracy_short(), _fmt(last.get("gap")), "", "", "min " + _fmt(min(gaps)) if gaps else "", "", ""))
    if last.get("modality_gap") is not None:
        rows.append((names.feature_short(last.get("samples")), f"{last['modality_gap']:.4f}", "", "", "", "", ""))
    if test:
        f = test.get("fused") or {}
        rows.append(("test (best.pt)", *(_fmt(f.get(k)) for k in METRICS), "", "", ""))
    best_epoch = (best or {}).get("epoch")
    title = f"validation, epoch {last.get('epoch')}" + (
        f" (best.pt: epoch {best_epoch})" if best_epoch else "")  # the engine's choice (eval.select)
    return title, rows


class MetricsTable(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = True
        self._columns()

    def _columns(self) -> None:
        """The columns, once: the screen may show a run before this table's on_mount has run."""
        if not self.columns:
            self.add_columns("validation", "ACC", "MAP", "F1", "best ACC", "best MAP", "best F1")

    def show(self, title: str, rows: list[tuple]) -> None:
        """`title` and `rows` as `validation_rows` gives them."""
        self.clear()
        self._columns()
        for row in rows:
            self.add_row(*row)
        self.border_title = title
