"""The losses over steps: total, classification and matching. The title and the legend are on
the frame, so that every row inside plots, and the steps are ticked in whole numbers."""
from __future__ import annotations

from typing import Mapping, Sequence

from textual_plotext import PlotextPlot

from lfm_tui.widgets.series import int_ticks, legend, plot_rows, row_ticks, thin

COLORS = {"total": "cyan", "cls": "green", "mm": "magenta"}


class LossChart(PlotextPlot):
    BORDER_TITLE = "loss by step"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.x_range: tuple[float, float] | None = None
        self.y_range: tuple[float, float] | None = None

    def show(self, losses: Mapping[str, Sequence[tuple[float, float]]]) -> None:
        """`losses`: each loss's (step, value) points, in order ({} for no run)."""
        plt = self.plt
        plt.clear_figure()  # data, limits and ticks: nothing of the last run shown stays
        names: list[str] = []
        xs_all: list[float] = []
        ys_all: list[float] = []
        for name, points in losses.items():
            if points:
                xs, ys = thin(points, max(50, self.size.width * 2))
                plt.plot(xs, ys, color=COLORS.get(name, "white"), marker="braille")
                names.append(name)
                xs_all += [xs[0], xs[-1]]
                ys_all += [min(ys), max(ys)]
        self.x_range = (min(xs_all), max(xs_all)) if xs_all else None
        self.y_range = (min(ys_all), max(ys_all)) if ys_all else None
        if self.y_range is not None and self.y_range[1] > self.y_range[0]:
            plt.ylim(*self.y_range)
        self.border_subtitle = legend(names, COLORS)
        self.refresh()

    def render(self):
        if self.x_range is not None:
            self.plt.xticks(int_ticks(*self.x_range, most=max(2, (self.size.width - 6) // 8)))
        if self.y_range is not None and self.y_range[1] > self.y_range[0]:
            ticks = row_ticks(*self.y_range, plot_rows(self.size.height))
            self.plt.yticks(ticks, [f"{t:.2f}" for t in ticks])
        return super().render()
