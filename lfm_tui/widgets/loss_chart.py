"""The losses over steps: total, classification and matching."""
from __future__ import annotations

from textual_plotext import PlotextPlot

from lfm_tui.session import RunSession
from lfm_tui.widgets.series import thin

COLORS = {"total": "cyan", "cls": "green", "mm": "magenta"}


class LossChart(PlotextPlot):
    def show(self, session: RunSession | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title("loss by step")
        plt.xlabel("step")
        if session is not None:
            for name, points in session.state.losses.items():
                if points:
                    xs, ys = thin(points, max(50, self.size.width * 2))
                    plt.plot(xs, ys, label=name, color=COLORS.get(name, "white"), marker="braille")
        self.refresh()
