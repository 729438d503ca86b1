"""The two figures, drawn on matplotlib Figures (no pyplot, no interactive backend) and returned,
so that their axes, labels, legends and limits can be read back: the curves (the LFM paper's
Fig. 3: alpha over training, and validation ACC, fused and per modality, over epochs) and the
test ACC per configuration, as bars or as dots with intervals (`bar_kind`).

Every drawn line, bar and dot carries a gid (`curve-<panel>-<row>`, `band-<panel>-<row>`,
`bar-<metric>-<row>`, `dot-<metric>-<row>`), the id of its group in an SVG, and SVG text stays
text, so a figure can be checked by reading it. How it looks (type, colours, widths) is the
Style's (lfm_plot/style.py).
"""
from __future__ import annotations

import math

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lfm_plot.series import Panel, bar_metrics, bar_values
from lfm_plot.style import BASE_RC, DRAFT, Style, metadata, width
from lfm_tui.compare import Row

KINDS = ("auto", "bars", "dots")
SPREAD = 10.0  # points of ACC (a tenth of a 0-100 axis): a smaller spread of means is drawn as dots
BANDS = "mean over seeds, band: ± one standard deviation"
INTERVALS = {"bars": "bar: mean over seeds, error bar: ± one standard deviation",
             "dots": "dot: mean over seeds, line: ± one standard deviation"}


def _legend_line(style: Style) -> float:
    """The height of a line of legend or tick labels, in inches."""
    return 0.3 if style is DRAFT else 0.16


def curves(rows: list[Row], panels: list[Panel], **how) -> Figure:
    """The curves of the comparison table's rows (`draw_curves`, labelled by the rows)."""
    return draw_curves([r.label for r in rows], panels, **how)


def draw_curves(labels: list[str], panels: list[Panel], *, style: Style = DRAFT,
                size: tuple[float, float] | None = None, columns: int | None = None, dpi: int | None = None) -> Figure:
    """One panel per Panel, one line per row (the mean over seeds) with a band of one standard
    deviation where there are two seeds or more; one legend for all panels. The x-axis is in
    epochs, ticked at whole epochs; a step panel (alpha) holds each value until the next
    (`drawstyle="steps-post"`) from 0 to the end of the last step. A Panel's series are keyed by
    the index of their row's label in `labels`, which also picks their colour."""
    cols = 1 if len(panels) == 1 else 2 if len(panels) <= 4 else 3
    nrows = math.ceil(len(panels) / cols)
    ncols_legend = min(4 if columns == 2 else 3, max(len(labels), 1))
    if size is None:
        w = width(columns, 4.6 * cols)
        size = (w, min(3.2, 0.7 * w / cols) * nrows + _legend_line(style) * (math.ceil(len(labels) / ncols_legend) + 1))
    with style.context():
        fig = Figure(figsize=size, dpi=dpi or style.dpi, layout="constrained")
        axes = fig.subplots(nrows, cols, squeeze=False).ravel()
        _draw_panels(axes, labels, panels, style)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        widest = max(range(len(panels)), key=lambda k: len(panels[k].series))  # the panel with every row
        handles, labels = axes[widest].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols_legend, frameon=False, title=BANDS)
    return fig


def _draw_panels(axes, labels: list[str], panels: list[Panel], style: Style) -> None:
    colours = style.colours(len(labels))
    for ax, panel in zip(axes, panels):
        ends = []
        for i, s in sorted(panel.series.items()):
            x, mean, sd = list(s.x), list(s.mean), [v or 0.0 for v in s.std]
            if panel.steps and s.until is not None and x and s.until > x[-1]:  # the last value over its step
                x, mean, sd = x + [s.until], mean + mean[-1:], sd + sd[-1:]
            ends += x[-1:]
            line, = ax.plot(x, mean, color=colours[i], ls=style.dash(i), lw=style.line_width, label=labels[i],
                            marker="o" if len(x) == 1 else None, drawstyle="steps-post" if panel.steps else "default")
            line.set_gid(f"curve-{panel.key}-{i}")
            if any(v is not None for v in s.std):
                band = ax.fill_between(x, [m - d for m, d in zip(mean, sd)], [m + d for m, d in zip(mean, sd)],
                                       color=colours[i], alpha=0.18, lw=0, step="post" if panel.steps else None)
                band.set_gid(f"band-{panel.key}-{i}")
        ax.set_title(panel.title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        first = 0 if panel.steps else min((s.x[0] for s in panel.series.values() if s.x), default=0)
        if ends and max(ends) > first:
            ax.set_xlim(first, max(ends))
        ax.set_ylabel(panel.ylabel)
        ax.grid(True, alpha=0.3)
        if not panel.series:
            ax.text(0.5, 0.5, "no configuration has this curve", ha="center", va="center",
                    transform=ax.transAxes, color="grey")


def bar_kind(rows: list[Row]) -> str:
    """`kind_of` the rows' test ACC."""
    return kind_of(bar_metrics(rows), bar_values(rows))


def kind_of(metrics: list[tuple[str, str]], values: list[dict]) -> str:
    """`bars` (from zero) where in every metric the rows' means span SPREAD points or more, so
    that the bars' lengths show their differences; else `dots`: each mean a dot with its
    interval, on an axis around them (a bar from zero would hide differences of a point)."""
    for key, _ in metrics:
        means = [v[key][0] for v in values if v[key] is not None]
        if len(means) > 1 and max(means) - min(means) < SPREAD:
            return "dots"
    return "bars"


def bars(rows: list[Row], **how) -> Figure:
    """The test ACC of the comparison table's rows (`draw_bars`)."""
    return draw_bars([r.label for r in rows], bar_metrics(rows), bar_values(rows), **how)


def draw_bars(labels: list[str], metrics: list[tuple[str, str]], values: list[dict], *, style: Style = DRAFT,
              size: tuple[float, float] | None = None, columns: int | None = None, dpi: int | None = None,
              kind: str = "auto") -> Figure:
    """Test ACC, one panel per metric (fused ACC, then each modality's) side by side, the rows
    down their shared y-axis (the table's order, first on top), so that many rows make a wide
    figure, not a tall one. `values[i][key]`: row i's (mean, std or None) of the metric, or
    None. `kind` bars: horizontal bars from 0 to 100 with error bars; dots: the mean with an
    interval of one standard deviation, each panel's axis around its intervals; auto: `kind_of`."""
    kind = kind_of(metrics, values) if kind == "auto" else kind
    line = 0.22 if style is DRAFT else 0.15
    size = size or (width(columns, 2.0 + 2.6 * len(metrics)), 0.6 + line * len(labels) + 2 * _legend_line(style))
    with style.context():
        fig = Figure(figsize=size, dpi=dpi or style.dpi, layout="constrained")
        axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
        colours = style.colours(len(metrics))
        for ax, colour, (key, name) in zip(axes, colours, metrics):
            got = [(i, v[key][0], v[key][1] or 0.0) for i, v in enumerate(values) if v[key] is not None]
            (_bars if kind == "bars" else _dots)(ax, key, got, colour)
            ax.set_title(name)
            ax.set_xlabel("test ACC (%)")
            ax.grid(True, axis="x", alpha=0.3)
        axes[0].set_yticks(range(len(labels)), labels)
        axes[0].set_ylim(len(labels) - 0.5, -0.5)  # the first row on top
        fig.suptitle(INTERVALS[kind])
    return fig


def _bars(ax, key: str, got: list[tuple[int, float, float]], colour) -> None:
    if got:
        idx, means, errs = zip(*got)
        container = ax.barh(idx, means, height=0.7, xerr=errs, color=colour,
                            error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "0.2"})
        for i, patch in zip(idx, container.patches):
            patch.set_gid(f"bar-{key}-{i}")
    ax.set_xlim(0, max([100.0, *(m + e for _, m, e in got)]))


def _dots(ax, key: str, got: list[tuple[int, float, float]], colour) -> None:
    for i, m, e in got:
        drawn = ax.errorbar([m], [i], xerr=[e], fmt="o", color=colour, ms=4, elinewidth=1.2, capsize=2)
        drawn.lines[0].set_gid(f"dot-{key}-{i}")
    if got:
        lo, hi = min(m - e for _, m, e in got), max(m + e for _, m, e in got)
        pad = max(0.5, 0.08 * (hi - lo))
        ax.set_xlim(max(0.0, lo - pad), hi + pad)


def save(fig: Figure, fh, fmt: str) -> None:
    """The figure into a binary file object; an SVG or PDF without a date, so a figure of the
    same runs is the same file."""
    with matplotlib.rc_context(BASE_RC):
        fig.savefig(fh, format=fmt, metadata=metadata(fmt))


def spec_command(argv: list[str], usage: str, draw_spec) -> int:
    """`python -m lfm_plot.<figure> SPEC_JSON OUT_PNG`: the figure `draw_spec` makes of the JSON
    spec (read bounded; a bad one is exit 2), written whole to OUT_PNG, never through a link."""
    import sys
    from pathlib import Path

    from engine.contract import untrusted, writes

    if len(argv) != 2:
        print(f"usage: {usage}", file=sys.stderr)
        return 2
    try:
        fig = draw_spec(untrusted.read_json(Path(argv[0])))
    except (OSError, ValueError) as exc:
        print(f"{argv[0]}: {exc}", file=sys.stderr)
        return 2
    try:
        with writes.atomic_open(Path(argv[1])) as fh:
            save(fig, fh, "png")
    except writes.LinkRefused as exc:
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{argv[1]}: cannot be written ({exc.strerror or exc})", file=sys.stderr)
        return 1
    return 0
