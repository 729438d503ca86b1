"""Several runs on one chart, a series per run in the run's colour; no legend on the curves (the
compare screen names the colours beside the charts). The title is on the frame, so that a small
chart keeps it and every row inside plots; epochs are ticked in whole numbers."""
from __future__ import annotations

from textual_plotext import PlotextPlot

from lfm_tui.widgets.series import int_ticks, plot_rows, row_ticks

PALETTE = ("cyan", "magenta", "green", "yellow", "red", "blue", "white")


def color(i: int) -> str:
    """The colour of the `i`-th run, the same on every chart and in the legend."""
    return PALETTE[i % len(PALETTE)]


class CompareChart(PlotextPlot):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.x_range: tuple[float, float] | None = None
        self.y_range: tuple[float, float] | None = None

    def show(self, title: str, series: list[tuple[list[float], list[float]]],
             ylim: tuple[float, float] | None = None, xlabel: str = "epoch") -> None:
        """`series`: (xs, ys) of each run, in the runs' order."""
        plt = self.plt
        plt.clear_figure()
        self.border_title = title
        self.border_subtitle = xlabel
        xs_all = [x for xs, _ in series for x in xs]
        ys_all = [y for _, ys in series for y in ys]
        for i, (xs, ys) in enumerate(series):
            if xs:
                plt.plot(xs, ys, color=color(i), marker="braille")
        self.x_range = (min(xs_all), max(xs_all)) if xs_all else None
        self.y_range = ylim or ((min(ys_all), max(ys_all)) if ys_all else None)
        if self.y_range is not None and self.y_range[1] > self.y_range[0]:
            plt.ylim(*self.y_range)
        self.refresh()

    def render(self):
        if self.x_range is not None:
            self.plt.xticks(int_ticks(*self.x_range, most=max(2, (self.size.width - 8) // 4)))
        if self.y_range is not None and self.y_range[1] > self.y_range[0]:
            ticks = row_ticks(*self.y_range, plot_rows(self.size.height), most=4)
            self.plt.yticks(ticks, [f"{t:.2f}" if self.y_range[1] <= 1 else f"{t:.1f}" for t in ticks])
        return super().render()
