"""Validation ACC / MAP / macro-F1 per modality and fused, the best so far, and the gap."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from lfm_tui.session import RunSession

METRICS = ("acc", "map", "f1")


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


class MetricsTable(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.zebra_stripes = True
        self._columns()

    def _columns(self) -> None:
        """The columns, once: the screen may show a run before this table's on_mount has run."""
        if not self.columns:
            self.add_columns("validation", "ACC", "MAP", "F1", "best ACC", "best MAP", "best F1")

    def show(self, session: RunSession | None) -> None:
        self.clear()
        self._columns()
        if session is None or not session.state.val_history:
            self.border_title = "validation"
            return
        s = session.state
        last = s.val_history[-1]
        rows = [("fused", lambda r: r.get("fused") or {})]
        rows += [(m, lambda r, m=m: (r.get("modalities") or {}).get(m) or {}) for m in s.modalities]
        for name, pick in rows:
            now = pick(last)
            best = [max((pick(r).get(k, float("-inf")) for r in s.val_history), default=None)
                    for k in METRICS]
            self.add_row(Text(str(name)), *(_fmt(now.get(k)) for k in METRICS), *(_fmt(b) for b in best))
        gaps = [r.get("gap") for r in s.val_history if r.get("gap") is not None]
        self.add_row("gap (ACC)", _fmt(last.get("gap")), "", "", "min " + _fmt(min(gaps)) if gaps else "", "", "")
        if last.get("modality_gap") is not None:
            self.add_row("modality gap", f"{last['modality_gap']:.4f}", "", "", "", "", "")
        if s.test:
            f = s.test.get("fused") or {}
            self.add_row("test (best.pt)", *(_fmt(f.get(k)) for k in METRICS), "", "", "")
        best_epoch = (s.best or {}).get("epoch")
        self.border_title = f"validation, epoch {last.get('epoch')}" + (
            f" (best.pt: epoch {best_epoch})" if best_epoch else "")  # the engine's choice (eval.select)
