"""Alpha by epoch, and the hypergradient on the right axis when alpha is learned. Whole epochs on
the x axis; the y ticks of alpha sit on rows of their own, so a constant alpha is drawn on the
row of its value."""
from __future__ import annotations

from typing import Mapping

from textual_plotext import PlotextPlot

from lfm_tui.widgets.series import int_ticks, legend, plot_rows, unit_ticks

HYPER = "hypergradient (right)"
COLORS = {"alpha": "orange", HYPER: "red"}  # plotext's names (its orange is the terminal's yellow)


class AlphaChart(PlotextPlot):
    BORDER_TITLE = "alpha by epoch"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.x_range: tuple[float, float] | None = None
        self.has_alpha = False

    def show(self, alpha: Mapping[int, float], hypergradient: Mapping[int, float]) -> None:
        """`alpha` and `hypergradient`: their values by epoch ({} for none)."""
        plt = self.plt
        plt.clear_figure()  # data, limits and ticks: nothing of the last run shown stays
        names: list[str] = []
        epochs: list[int] = []
        if alpha:
            xs = sorted(alpha)
            plt.plot(xs, [alpha[x] for x in xs], color=COLORS["alpha"], marker="braille")
            plt.ylim(0, 1)
            names.append("alpha")
            epochs += xs
        if hypergradient:
            xs = sorted(hypergradient)
            plt.plot(xs, [hypergradient[x] for x in xs], color=COLORS[HYPER], marker="braille", yside="right")
            names.append(HYPER)
            epochs += xs
        self.has_alpha = "alpha" in names
        self.x_range = (min(epochs), max(epochs)) if epochs else None
        self.border_subtitle = legend(names, COLORS)
        self.refresh()

    def render(self):
        if self.x_range is not None:
            self.plt.xticks(int_ticks(*self.x_range, most=max(2, (self.size.width - 14) // 6)))
        if self.has_alpha:
            self.plt.yticks(unit_ticks(plot_rows(self.size.height)))
        return super().render()
