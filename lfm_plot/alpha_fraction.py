"""`python -m lfm_plot.alpha_fraction SERIES_JSON OUT_PNG`: the paper's Figure 3 as `lfm
reproduce fig3` writes its numbers (fig3.json: dataset -> points with `fraction`, `alpha`, `std`,
`omega`): the learned alpha of each dataset over the fraction of training, a band of one standard
deviation over seeds, and the heuristic omega(t) of each dataset dashed. Exit status 0 written,
1 the PNG could not be written, 2 bad input (one line on stderr)."""
from __future__ import annotations

import sys

import matplotlib
from matplotlib.figure import Figure


MAX_POINTS = 100_000


def _points(data: object) -> dict[str, list[dict]]:
    if not isinstance(data, dict) or not data:
        raise ValueError("expected an object of dataset -> points")
    out, total = {}, 0
    for name, pts in data.items():
        if not isinstance(pts, list) or not all(
                isinstance(p, dict) and all(isinstance(p.get(k), (int, float)) for k in ("fraction", "alpha", "omega"))
                for p in pts):
            raise ValueError(f"{name}: expected points with fraction, alpha and omega")
        total += len(pts)
        if total > MAX_POINTS:
            raise ValueError(f"more than {MAX_POINTS} points")
        out[str(name)] = pts
    return out


def draw(series: dict[str, list[dict]], dpi: int = 100) -> Figure:
    with matplotlib.rc_context({"font.size": 9}):
        fig = Figure(figsize=(6.4, 4.0), dpi=dpi, layout="constrained")
        ax = fig.subplots()
        cmap = matplotlib.colormaps["tab10"]
        for i, (name, pts) in enumerate(series.items()):
            x = [p["fraction"] for p in pts]
            y = [p["alpha"] for p in pts]
            colour = cmap(i % cmap.N)
            ax.plot(x, y, color=colour, lw=1.5, marker="o", ms=3, label=f"{name}: learned α", gid=f"alpha-{name}")
            sd = [p.get("std") if isinstance(p.get("std"), (int, float)) else 0.0 for p in pts]
            if any(sd):
                ax.fill_between(x, [a - s for a, s in zip(y, sd)], [a + s for a, s in zip(y, sd)], color=colour,
                                alpha=0.15, lw=0)
            ax.plot(x, [p["omega"] for p in pts], color=colour, lw=1.0, ls="--", label=f"{name}: ω(t)",
                    gid=f"omega-{name}")
        ax.set_xlabel("fraction of training (epoch / epochs)")
        ax.set_ylabel("α")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    return fig


def main(argv: list[str]) -> int:
    from lfm_plot.figures import spec_command

    return spec_command(argv, "python -m lfm_plot.alpha_fraction SERIES_JSON OUT_PNG", lambda spec: draw(_points(spec)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
