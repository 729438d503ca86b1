"""Runs side by side: alpha by epoch and validation accuracy (fused, each modality) on one chart
each, every run in its colour; beside the charts, the legend (each run labelled by its method and
what sets it apart, as `lfm compare` labels its rows) and the numbers: validation ACC at the best
epoch, fused and per modality, the gap, the test ACC and the losses."""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from lfm_tui.compare import labels, resolved_config
from lfm_tui.session import RunSession
from lfm_tui.widgets.compare_chart import CompareChart, color


def accuracy_series(sessions: list[RunSession], modality: str | None) -> list[tuple[list, list]]:
    """Validation ACC by epoch of each run: fused when `modality` is None."""
    out = []
    for s in sessions:
        xs, ys = [], []
        for r in s.state.val_history:
            m = r.get("fused") if modality is None else (r.get("modalities") or {}).get(modality)
            if m and m.get("acc") is not None:
                xs.append(r["epoch"])
                ys.append(m["acc"])
        out.append((xs, ys))
    return out


def run_labels(sessions: list[RunSession]) -> list[str]:
    """Each run labelled by its method and the recipe keys that differ between the runs (as
    `lfm compare` does); runs whose recipes agree are told apart by their run folder."""
    configs = [resolved_config(s.state.recipe, s.state.run_name) if s.state.recipe else {} for s in sessions]
    out = [lab if cfg else s.label for lab, cfg, s in zip(labels(configs), configs, sessions)]
    return [f"{lab} {s.state.run_name or s.label}" if out.count(lab) > 1 else lab for lab, s in zip(out, sessions)]


def run_numbers(session: RunSession, modalities: list[str]) -> dict[str, float | None]:
    """A run's row of the table: validation at the epoch the engine chose as best, the test
    (with best.pt) and the losses (training: the last step's; validation: the best epoch's)."""
    st = session.state
    best = st.best or {}
    val = next((r for r in reversed(st.val_history) if r.get("epoch") == best.get("epoch")), None) or {}
    test = st.test or {}

    def acc(record: dict, m: str | None, fallback=None):
        metrics = record.get("fused") if m is None else (record.get("modalities") or {}).get(m)
        return (metrics or {}).get("acc", fallback)

    out: dict[str, float | None] = {"best epoch": best.get("epoch"), "val ACC": acc(val, None, best.get("acc"))}
    out.update({f"val ACC {m}": acc(val, m, best.get(f"acc_{m}")) for m in modalities})
    out["val accuracy gap"] = val.get("gap", best.get("gap"))
    out["test ACC"] = acc(test, None)
    out.update({f"test ACC {m}": acc(test, m) for m in modalities})
    out["test accuracy gap"] = test.get("gap")
    out.update({f"train {k}": st.last_losses.get(k) for k in ("total", "cls", "mm")})
    out["val loss"] = val.get("loss", best.get("loss"))
    return out


def _fmt(key: str, v) -> str:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return "-"
    return str(v) if key == "best epoch" else f"{v:.4f}" if "train" in key or "loss" in key else f"{v:.2f}"


class CompareScreen(Screen):
    DEFAULT_CSS = """
    CompareScreen #compare-body { height: 1fr; }
    CompareScreen #compare-side { height: 1fr; }
    CompareScreen #compare-legend { height: auto; padding: 0 1; }
    CompareScreen #compare-table { height: 1fr; border: round $primary; }
    """
    BINDINGS = [Binding("escape", "app.pop_screen", "back")]

    def __init__(self, sessions: list[RunSession], marks: list[str] | None = None) -> None:
        """`marks`: each run's tags and note (engine/contract/annotations.py `text`), put after its label."""
        super().__init__()
        self.sessions = sessions
        mods: list[str] = []
        for s in sessions:
            mods += [m for m in s.state.modalities if m not in mods]
        self.modalities = mods
        self.labels = [f"{lab}  {mark}" if mark else lab
                       for lab, mark in zip(run_labels(sessions), marks or [""] * len(sessions))]

    def compose(self) -> ComposeResult:
        yield Static(Text(f"{len(self.sessions)} runs: " + " vs ".join(self.labels)), id="compare-title")
        with Horizontal(id="compare-body"):
            with Grid(id="compare-grid"):
                yield CompareChart(id="cmp-alpha")
                yield CompareChart(id="cmp-fused")
                for i, _ in enumerate(self.modalities):
                    yield CompareChart(id=f"cmp-mod-{i}")
            with Vertical(id="compare-side"):
                yield Static(id="compare-legend")
                yield DataTable(id="compare-table", cursor_type="none", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        n = 2 + len(self.modalities)
        self.query_one("#compare-grid").styles.grid_size_columns = 2 if n <= 4 else 3
        self.query_one("#compare-side").styles.width = max(40, min(64, 18 + 8 * len(self.sessions)))
        alpha = [(sorted(s.state.alpha_by_epoch), [s.state.alpha_by_epoch[e] for e in sorted(s.state.alpha_by_epoch)])
                 for s in self.sessions]
        self.query_one("#cmp-alpha", CompareChart).show("alpha by epoch", alpha, (0, 1))
        self.query_one("#cmp-fused", CompareChart).show("fused val ACC", accuracy_series(self.sessions, None))
        for i, m in enumerate(self.modalities):
            self.query_one(f"#cmp-mod-{i}", CompareChart).show(
                f"{m} val ACC", accuracy_series(self.sessions, m))
        legend = Text()
        for i, label in enumerate(self.labels):
            legend.append(("\n" if i else "") + f"━━ {i + 1} ", style=f"bold {color(i)}")
            legend.append(label)  # the recipe's values: text, never markup
        self.query_one("#compare-legend", Static).update(legend)
        self.show_numbers()

    def show_numbers(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        table.add_column("", key="name")
        for i, _ in enumerate(self.sessions):
            table.add_column(Text(str(i + 1), style=f"bold {color(i)}"), key=str(i + 1))
        rows = [run_numbers(s, self.modalities) for s in self.sessions]
        for key in rows[0] if rows else ():
            table.add_row(key, *(_fmt(key, r[key]) for r in rows), key=key)
        table.border_title = "best epoch (val), test, losses"
