"""The run screen in an 80x24 terminal: charts keep their rows, legend and whole-number ticks,
every key hint fits, and a constant alpha is drawn on the row of its value."""
from __future__ import annotations

import asyncio
import re

import pytest
from textual.widgets import Footer

from lfm_tui.widgets.alpha_chart import AlphaChart
from lfm_tui.widgets.loss_chart import LossChart
from lfm_tui.widgets.series import int_ticks, row_ticks, unit_ticks
from tests.test_tui_snapshots import app as snapshot_app, live_session
from tests.tui_helpers import ROOT, reads_done, screen_text, until

MIN_ROWS = 5  # plotted rows each chart keeps at 80x24
BRAILLE = re.compile("[\u2801-\u28ff]")


def plot_lines(chart) -> list[str]:
    """The chart as plotext drew it, one string per line."""
    return chart.render().plain.splitlines()


def plotted_rows(lines: list[str]) -> list[str]:
    top = next(i for i, l in enumerate(lines) if "┌" in l)
    bottom = next(i for i, l in enumerate(lines) if "└" in l)
    return lines[top + 1:bottom]


def x_labels(lines: list[str]) -> list[str]:
    bottom = next(i for i, l in enumerate(lines) if "└" in l)
    return lines[bottom + 1].split()


def hints_shown(app) -> bool:
    return any(len(f.children) > 0 for f in app.screen.query(Footer))


def run_small(session, check, size=(80, 24)):
    async def scenario():
        app = snapshot_app()
        async with app.run_test(size=size) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await until(pilot, lambda: hints_shown(app), what="first screen")
            app.show_session(session)
            await until(pilot, lambda: type(app.screen).__name__ == "RunScreen" and hints_shown(app), what="key hints")
            await until(pilot, lambda: app.screen.query_one(LossChart).x_range is not None, what="charts")
            await until(pilot, lambda: "? keys" in screen_text(app).splitlines()[-1], what="the footer drawn")
            check(app)
    asyncio.run(scenario())


@pytest.fixture(autouse=True)
def in_repo_root(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)


def test_charts_keep_their_rows_legend_and_whole_number_ticks_at_80x24() -> None:
    def check(app):
        loss, alpha = app.screen.query_one(LossChart), app.screen.query_one(AlphaChart)
        for chart in (loss, alpha):
            lines = plot_lines(chart)
            assert len(plotted_rows(lines)) >= MIN_ROWS, "\n".join(lines)
            labels = x_labels(lines)
            assert len(labels) >= 2 and all(re.fullmatch(r"\d+", t) for t in labels), labels
        assert x_labels(plot_lines(alpha)) == ["1", "2", "3"]  # epochs 1 to 3 so far
        assert x_labels(plot_lines(loss)) == ["20", "40", "60"]  # steps 6 to 60
        text = screen_text(app)
        assert "━ total ━ cls ━ mm" in text and "━ alpha" in text
        assert "loss by step" in text and "alpha by epoch" in text
        footer = text.splitlines()[-1]
        for hint in ("s stop", "r resume", "[ prev run", "] next run", "l log/table", "q quit", "? keys",
                     "1-4 screens"):
            assert hint in footer, footer
    run_small(live_session(60), check)


@pytest.mark.parametrize("size,value,label", [((80, 24), 0.5, "0.50"), ((80, 24), 0.25, "0.25"),
                                              ((120, 40), 0.75, "0.75")])
def test_a_constant_alpha_is_drawn_on_the_row_of_its_value(size, value: float, label: str) -> None:
    session = live_session(60)
    session.state.alpha_by_epoch = {1: value, 2: value, 3: value}

    def check(app):
        rows = plotted_rows(plot_lines(app.screen.query_one(AlphaChart)))
        drawn = [r for r in rows if BRAILLE.search(r)]
        assert len(drawn) == 1, "\n".join(rows)
        assert drawn[0].startswith(f"{label}┤"), "\n".join(rows)
    run_small(session, check, size)


def test_loss_ticks_name_the_value_of_their_row() -> None:
    session = live_session(60)
    session.state.losses = {"total": [(s, 3.0) for s in range(6, 61, 6)],
                            "cls": [(s, 1.0) for s in range(6, 61, 6)], "mm": []}

    def check(app):
        rows = plotted_rows(plot_lines(app.screen.query_one(LossChart)))
        assert len(rows) >= MIN_ROWS
        drawn = [r.split("┤")[0] for r in rows if BRAILLE.search(r)]
        assert drawn == ["3.00", "1.00"], "\n".join(rows)
    run_small(session, check)


def test_tick_helpers() -> None:
    assert int_ticks(1, 3, 5) == [1, 2, 3]
    assert int_ticks(6, 88, 4) == [20, 40, 60, 80]
    assert int_ticks(1, 30, 6) == [5, 10, 15, 20, 25, 30]
    assert int_ticks(4, 4, 5) == [4] and int_ticks(0.2, 0.8, 5) == []
    assert unit_ticks(5) == [0, 0.25, 0.5, 0.75, 1] and unit_ticks(3) == [0, 0.5, 1]
    assert row_ticks(1.0, 3.0, 5) == [1.0, 1.5, 2.0, 2.5, 3.0]
    assert row_ticks(0.0, 9.0, 10, most=4) == [0.0, 3.0, 6.0, 9.0]
