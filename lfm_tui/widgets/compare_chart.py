"""Several runs on one chart, a series per run in the run's colour; no legend on the curves (the
compare screen names the colours beside the charts)."""
from __future__ import annotations

from textual_plotext import PlotextPlot

PALETTE = ("cyan", "magenta", "green", "yellow", "red", "blue", "white")


def color(i: int) -> str:
    """The colour of the `i`-th run, the same on every chart and in the legend."""
    return PALETTE[i % len(PALETTE)]


class CompareChart(PlotextPlot):
    def show(self, title: str, series: list[tuple[list[float], list[float]]],
             ylim: tuple[float, float] | None = None, xlabel: str = "epoch") -> None:
        """`series`: (xs, ys) of each run, in the runs' order."""
        plt = self.plt
        plt.clear_data()
        plt.title(title)
        plt.xlabel(xlabel)
        for i, (xs, ys) in enumerate(series):
            if xs:
                plt.plot(xs, ys, color=color(i), marker="braille")
        if ylim:
            plt.ylim(*ylim)
        self.refresh()
