"""Runs side by side: alpha by epoch on one chart, validation accuracy per modality on one each."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Static

from lfm_tui.session import RunSession
from lfm_tui.widgets.compare_chart import CompareChart


def accuracy_series(sessions: list[RunSession], modality: str | None) -> dict:
    """Validation ACC by epoch per run: fused when `modality` is None."""
    out = {}
    for s in sessions:
        xs, ys = [], []
        for r in s.state.val_history:
            m = r.get("fused") if modality is None else (r.get("modalities") or {}).get(modality)
            if m and m.get("acc") is not None:
                xs.append(r["epoch"])
                ys.append(m["acc"])
        out[s.label] = (xs, ys)
    return out


class CompareScreen(Screen):
    BINDINGS = [Binding("escape", "app.pop_screen", "back")]

    def __init__(self, sessions: list[RunSession]) -> None:
        super().__init__()
        self.sessions = sessions
        mods: list[str] = []
        for s in sessions:
            mods += [m for m in s.state.modalities if m not in mods]
        self.modalities = mods

    def compose(self) -> ComposeResult:
        yield Static(Text(" vs ".join(s.label for s in self.sessions)), id="compare-title")
        with Grid(id="compare-grid"):
            yield CompareChart(id="cmp-alpha")
            yield CompareChart(id="cmp-fused")
            for i, _ in enumerate(self.modalities):
                yield CompareChart(id=f"cmp-mod-{i}")
        yield Footer()

    def on_mount(self) -> None:
        n = 2 + len(self.modalities)
        self.query_one("#compare-grid").styles.grid_size_columns = 2 if n <= 4 else 3
        alpha = {s.label: (sorted(s.state.alpha_by_epoch),
                           [s.state.alpha_by_epoch[e] for e in sorted(s.state.alpha_by_epoch)])
                 for s in self.sessions}
        self.query_one("#cmp-alpha", CompareChart).show("alpha by epoch", alpha, (0, 1))
        self.query_one("#cmp-fused", CompareChart).show("fused val ACC", accuracy_series(self.sessions, None))
        for i, m in enumerate(self.modalities):
            self.query_one(f"#cmp-mod-{i}", CompareChart).show(
                f"{m} val ACC", accuracy_series(self.sessions, m))
