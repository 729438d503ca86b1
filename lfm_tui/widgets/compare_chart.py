"""Several runs on one chart: a named series per run."""
from __future__ import annotations

from textual_plotext import PlotextPlot

PALETTE = ("cyan", "magenta", "green", "yellow", "red", "blue", "white")


class CompareChart(PlotextPlot):
    def show(self, title: str, series: dict[str, tuple[list[float], list[float]]],
             ylim: tuple[float, float] | None = None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title(title)
        plt.xlabel("epoch")
        for i, (label, (xs, ys)) in enumerate(series.items()):
            if xs:
                plt.plot(xs, ys, label=label, color=PALETTE[i % len(PALETTE)], marker="braille")
        if ylim:
            plt.ylim(*ylim)
        self.refresh()
