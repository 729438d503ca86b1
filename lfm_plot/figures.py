"""The two figures, drawn on matplotlib Figures (no pyplot, no interactive backend): the curves
(the LFM paper's Fig. 3: alpha over training, and validation ACC, fused and per modality, over
epochs) and the bars (test ACC per configuration, error bars over seeds).

Every drawn line and bar carries a gid (`curve-<panel>-<row>`, `band-<panel>-<row>`,
`bar-<metric>-<row>`), the id of its group in an SVG, and SVG text stays text, so a figure can
be checked by reading it.
"""
from __future__ import annotations

import math

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lfm_plot.series import Panel, bar_metrics, bar_values
from lfm_tui.compare import Row

RC = {"svg.fonttype": "none", "svg.hashsalt": "lfm-plot", "font.size": 9}


def _colours(n: int) -> list:
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def curves(rows: list[Row], panels: list[Panel], size: tuple[float, float] | None, dpi: int) -> Figure:
    """One panel per Panel, one line per row (the mean over seeds) with a band of one standard
    deviation where there are two seeds or more; one legend for all panels."""
    cols = 1 if len(panels) == 1 else 2 if len(panels) <= 4 else 3
    nrows = math.ceil(len(panels) / cols)
    size = size or (4.6 * cols, 3.2 * nrows + 0.3 * math.ceil(len(rows) / 3) + 0.4)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=size, dpi=dpi, layout="constrained")
        axes = fig.subplots(nrows, cols, squeeze=False).ravel()
        colours = _colours(len(rows))
        for ax, panel in zip(axes, panels):
            for i, s in sorted(panel.series.items()):
                line, = ax.plot(s.x, s.mean, color=colours[i], lw=1.4, label=rows[i].label,
                                marker="o" if len(s.x) == 1 else None, ms=3)
                line.set_gid(f"curve-{panel.key}-{i}")
                if any(sd is not None for sd in s.std):
                    sd = [v or 0.0 for v in s.std]
                    band = ax.fill_between(s.x, [m - d for m, d in zip(s.mean, sd)],
                                           [m + d for m, d in zip(s.mean, sd)], color=colours[i], alpha=0.18, lw=0)
                    band.set_gid(f"band-{panel.key}-{i}")
            ax.set_title(panel.title)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(panel.ylabel)
            ax.grid(True, alpha=0.3)
            if not panel.series:
                ax.text(0.5, 0.5, "no configuration has this curve", ha="center", va="center",
                        transform=ax.transAxes, color="grey")
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        widest = max(range(len(panels)), key=lambda k: len(panels[k].series))  # the panel with every row
        handles, labels = axes[widest].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(3, max(len(labels), 1)),
                   frameon=False, title="mean over seeds, band: ± one standard deviation")
    return fig


def bars(rows: list[Row], size: tuple[float, float] | None, dpi: int) -> Figure:
    """Horizontal bars, one group per row (top to bottom in the table's order), one bar per
    metric (fused ACC, then each modality's ACC), error bars the sample std over seeds."""
    metrics = bar_metrics(rows)
    values = bar_values(rows)
    height = 0.8 / len(metrics)
    size = size or (9.0, 1.6 + 0.24 * len(rows) * len(metrics))
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=size, dpi=dpi, layout="constrained")
        ax = fig.subplots()
        colours = _colours(len(metrics))
        for j, (key, name) in enumerate(metrics):
            ys, means, errs, idx = [], [], [], []
            for i, v in enumerate(values):
                if v[key] is not None:
                    idx.append(i)
                    ys.append(i - 0.4 + height * (j + 0.5))
                    means.append(v[key][0])
                    errs.append(v[key][1] or 0.0)
            if not idx:
                continue
            container = ax.barh(ys, means, height=height * 0.92, xerr=errs, color=colours[j], label=name,
                                error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "0.2"})
            for i, patch in zip(idx, container.patches):
                patch.set_gid(f"bar-{key}-{i}")
        ax.set_yticks(range(len(rows)), [r.label for r in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)  # the first row on top
        ax.set_xlabel("test ACC (%), mean over seeds; error bars: ± one standard deviation")
        ax.grid(True, axis="x", alpha=0.3)
        lo = min((v[k][0] - (v[k][1] or 0) for v in values for k, _ in metrics if v[k] is not None), default=0)
        ax.set_xlim(max(0.0, math.floor(lo / 10) * 10 - 5), 100)
        fig.legend(loc="outside upper center", ncols=min(4, len(metrics)), frameon=False)
    return fig


def save(fig: Figure, fh, fmt: str) -> None:
    """The figure into a binary file object; an SVG without a date, so a figure of the same
    runs is the same file."""
    with matplotlib.rc_context(RC):
        fig.savefig(fh, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
