"""How the figures look: `draft` (screen: larger type, matplotlib's tab10 colours, PNG at 150
dpi) and `paper` (print: 8-point type, the Okabe-Ito colour-blind-safe palette, thin lines, no
top and right spines, vector PDF by default or PNG at 300 dpi, widths of one or two columns of a
two-column paper).

A paper's column is taken as 3.25 in and its text width as 6.75 in: the narrowest of the usual
templates (ICML, ACM 3.33 / 7.0, IEEE 3.5 / 7.16), so a figure is never scaled up and its type
stays at the size it was drawn.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib

# Okabe & Ito, "Color Universal Design" (2008): told apart with every common colour-vision
# deficiency; black last, for the ninth row on the lines of the first colours dashed.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442", "#000000")
COLUMN_IN = {1: 3.25, 2: 6.75}
DASHES = ("-", "--", ":", "-.")

BASE_RC = {"svg.fonttype": "none", "svg.hashsalt": "lfm-plot", "pdf.fonttype": 42}


@dataclass(frozen=True)
class Style:
    name: str
    dpi: int                 # PNG pixels per inch where --dpi is not given
    format: str              # file format where --format is not given
    line_width: float
    rc: dict = field(default_factory=dict)
    palette: tuple[str, ...] | None = None  # None: matplotlib's tab10 / tab20

    def colours(self, n: int) -> list:
        """n colours, one per row (or metric); a palette shorter than n repeats (see dash)."""
        if self.palette is not None:
            return [self.palette[i % len(self.palette)] for i in range(n)]
        cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
        return [cmap(i % cmap.N) for i in range(n)]

    def dash(self, i: int) -> str:
        """The line style of row i: solid while the colours last, then dashed, dotted..."""
        size = len(self.palette) if self.palette is not None else 20
        return DASHES[(i // size) % len(DASHES)]

    def context(self):
        return matplotlib.rc_context({**BASE_RC, **self.rc})


DRAFT = Style("draft", dpi=150, format="png", line_width=1.4, rc={"font.size": 9})
PAPER = Style("paper", dpi=300, format="pdf", line_width=1.0, palette=OKABE_ITO, rc={
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7,
    "legend.fontsize": 7, "legend.title_fontsize": 7, "figure.titlesize": 8, "axes.linewidth": 0.6,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.major.size": 2.5, "ytick.major.size": 2.5,
    "axes.spines.top": False, "axes.spines.right": False, "grid.linewidth": 0.4, "lines.markersize": 3,
    "font.family": "DejaVu Sans"})
STYLES = {s.name: s for s in (DRAFT, PAPER)}


def width(columns: int | None, draft_width: float) -> float:
    """The figure's width in inches: one or two columns of a paper, else the draft's width."""
    return COLUMN_IN[columns] if columns else draft_width


def metadata(fmt: str) -> dict | None:
    """No date in a vector file, so a figure of the same runs is the same file."""
    return {"Date": None} if fmt == "svg" else {"CreationDate": None} if fmt == "pdf" else None
