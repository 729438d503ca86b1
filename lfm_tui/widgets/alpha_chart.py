"""Alpha by epoch, and the hypergradient on the right axis when alpha is learned."""
from __future__ import annotations

from textual_plotext import PlotextPlot

from lfm_tui.session import RunSession


class AlphaChart(PlotextPlot):
    def show(self, session: RunSession | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title("alpha by epoch")
        plt.xlabel("epoch")
        if session is not None:
            s = session.state
            if s.alpha_by_epoch:
                xs = sorted(s.alpha_by_epoch)
                plt.plot(xs, [s.alpha_by_epoch[x] for x in xs], label="alpha", color="yellow",
                         marker="braille")
                plt.ylim(0, 1)
            if s.hypergradient_by_epoch:
                xs = sorted(s.hypergradient_by_epoch)
                plt.plot(xs, [s.hypergradient_by_epoch[x] for x in xs], label="hypergradient",
                         color="red", marker="braille", yside="right")
        self.refresh()
