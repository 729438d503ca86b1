"""The figures read back from their matplotlib objects, not from images: axis limits (the bars'
axis starts at 0; dots' axes around their intervals), whole-epoch ticks and step-drawn alpha,
titles, labels, legends and colour bars; the paper style's widths, palette and files; the
engine's confusion matrices, modality-gap picture and Grad-CAM panels."""
from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.legend import Legend

from lfm_plot import figures
from lfm_plot.__main__ import main as plot_main
from lfm_plot.series import Panel, Series
from lfm_plot.style import COLUMN_IN, OKABE_ITO, PAPER
from lfm_tui.compare import Row, Run

MODS = ("pix", "mor")


def row(label: str, accs: dict[str, list[float]]) -> Row:
    """A configuration with one run per seed whose test ACCs are accs[key][seed]."""
    seeds = range(len(accs["acc"]))
    runs = [Run(Path(f"/runs/{label}/seed-{s}"), "ok", s, {}, {k: v[s] for k, v in accs.items()}) for s in seeds]
    return Row(label, {"method.name": label, "data.modalities": "[pix,mor]"}, runs, list(MODS))


# fused ACC 85.5 vs 91.5, pix 81.5 vs 81.75: the pix bars would differ by a quarter of a point
CLOSE = [row("concat", {"acc": [85.0, 86.0], "acc_pix": [82.0, 81.0], "acc_mor": [30.0, 41.0]}),
         row("lfm", {"acc": [90.0, 93.0], "acc_pix": [80.0, 83.5], "acc_mor": [50.0, 56.0]})]
# every metric's means at least 10 points apart
FAR = [row("thumb", {"acc": [60.0, 62.0], "acc_pix": [50.0, 52.0], "acc_mor": [20.0, 22.0]}),
       row("both", {"acc": [88.0, 90.0], "acc_pix": [80.0, 81.0], "acc_mor": [50.0, 52.0]})]


def drawn(fig):
    """The figure laid out and drawn (tick labels are made at drawing time)."""
    FigureCanvasAgg(fig).draw()
    return fig


def tick_texts(labels) -> list[str]:
    return [t.get_text() for t in labels if t.get_text()]


def test_bars_start_at_zero_one_panel_per_metric() -> None:
    fig = drawn(figures.bars(FAR))
    axes = fig.axes
    assert figures.bar_kind(FAR) == "bars"
    assert [ax.get_title() for ax in axes] == ["fused ACC", "ACC pix", "ACC mor"]
    for ax in axes:
        assert ax.get_xlim() == (0.0, 100.0) and ax.get_xlabel() == "test ACC (%)"
    assert tick_texts(axes[0].get_yticklabels()) == ["thumb", "both"]
    assert axes[0].get_ylim() == (1.5, -0.5)  # the first row on top
    widths = {p.get_gid(): p.get_width() for ax in axes for p in ax.patches}
    assert widths == pytest.approx({"bar-acc-0": 61.0, "bar-acc-1": 89.0, "bar-acc_pix-0": 51.0,
                                    "bar-acc_pix-1": 80.5, "bar-acc_mor-0": 21.0, "bar-acc_mor-1": 51.0})
    assert fig.get_suptitle() == "bar: mean over seeds, error bar: ± one standard deviation"


def test_close_rows_are_dots_with_intervals_on_an_axis_around_them() -> None:
    assert figures.bar_kind(CLOSE) == "dots"
    fig = drawn(figures.bars(CLOSE))
    assert not any(ax.patches for ax in fig.axes)
    dots = {line.get_gid(): (list(line.get_xdata()), list(line.get_ydata()))
            for ax in fig.axes for line in ax.lines if line.get_gid()}
    assert dots == {"dot-acc-0": ([85.5], [0]), "dot-acc-1": ([91.5], [1]), "dot-acc_pix-0": ([81.5], [0]),
                    "dot-acc_pix-1": ([81.75], [1]), "dot-acc_mor-0": ([35.5], [0]), "dot-acc_mor-1": ([53.0], [1])}
    fused = fig.axes[0].get_xlim()
    sd = 2.1213203  # the std of 90 and 93
    assert 80 < fused[0] < 85.5 - 0.7071 and 91.5 + sd < fused[1] < 96  # around the intervals, not from 0
    assert fig.get_suptitle() == "dot: mean over seeds, line: ± one standard deviation"
    forced = figures.bars(CLOSE, kind="bars")
    assert all(ax.get_xlim()[0] == 0.0 for ax in forced.axes)


def test_many_rows_make_a_wide_figure_not_a_tall_one() -> None:
    rows = [row(f"method {i}", {"acc": [80.0 + i / 4], "acc_pix": [70.0], "acc_mor": [40.0 + i]}) for i in range(24)]
    w, h = figures.bars(rows).get_size_inches()
    assert w == pytest.approx(9.8) and h == pytest.approx(0.6 + 0.22 * 24 + 0.6) and w > h  # 9 x 18.9 before
    w, h = figures.bars(rows, style=PAPER, columns=2).get_size_inches()
    assert w == COLUMN_IN[2] == 6.75 and h == pytest.approx(0.6 + 0.15 * 24 + 0.32)


def alpha_panel() -> Panel:
    """Alpha logged at the start of steps 2 and 4 of 4 per epoch, three epochs, two seeds."""
    x = [0.25, 0.75, 1.25, 1.75, 2.25, 2.75]
    return Panel("alpha", "alpha (weight of L_MM)", "alpha",
                 {1: Series(x, [0.5, 0.5, 0.4, 0.4, 0.3, 0.3], [0.1] * 6, [2] * 6, until=3.0)}, steps=True)


def acc_panel() -> Panel:
    return Panel("fused", "validation ACC, fused", "ACC (%)",
                 {0: Series([1, 2, 3], [70.0, 75.0, 78.0], [1.0] * 3, [2] * 3),
                  1: Series([1, 2, 3], [72.0, 80.0, 84.0], [1.0] * 3, [2] * 3)})


def test_curves_whole_epochs_and_alpha_held_step_by_step() -> None:
    fig = drawn(figures.curves(CLOSE, [alpha_panel(), acc_panel()]))
    alpha, acc = fig.axes[:2]
    (line,) = alpha.lines
    assert line.get_drawstyle() == "steps-post" and line.get_gid() == "curve-alpha-1"
    assert list(line.get_xdata()) == [0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0]  # the last step held to its end
    assert list(line.get_ydata())[-2:] == [0.3, 0.3]
    assert alpha.get_xlim() == (0.0, 3.0) and acc.get_xlim() == (1.0, 3.0)
    for ax in (alpha, acc):
        ticks = tick_texts(ax.get_xticklabels())
        assert ticks and all(t.lstrip("−-").isdigit() for t in ticks), ticks  # whole epochs only
        assert ax.get_xlabel() == "epoch"
    assert {ln.get_drawstyle() for ln in acc.lines} == {"default"}
    assert [alpha.get_title(), acc.get_title()] == ["alpha (weight of L_MM)", "validation ACC, fused"]
    assert [alpha.get_ylabel(), acc.get_ylabel()] == ["alpha", "ACC (%)"]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["concat", "lfm"]
    assert legend.get_title().get_text() == figures.BANDS


def test_paper_style_one_or_two_columns_okabe_ito() -> None:
    for columns in (1, 2):
        fig = figures.curves(CLOSE, [alpha_panel(), acc_panel()], style=PAPER, columns=columns)
        assert fig.get_size_inches()[0] == COLUMN_IN[columns]
        assert fig.dpi == 300
    colours = [to_hex(ln.get_color()).upper() for ln in fig.axes[1].lines]
    assert colours == [OKABE_ITO[0], OKABE_ITO[1]]
    assert fig.axes[1].xaxis.get_label().get_fontsize() == 8
    rows = [row(f"m{i}", {"acc": [50.0 + i], "acc_pix": [1.0], "acc_mor": [1.0]}) for i in range(10)]
    panel = Panel("fused", "validation ACC, fused", "ACC (%)", {i: Series([1, 2], [1.0, 2.0], [None] * 2, [1] * 2)
                                                                for i in range(10)})
    lines = figures.curves(rows, [panel], style=PAPER).axes[0].lines
    assert [ln.get_linestyle() for ln in lines] == ["-"] * 8 + ["--"] * 2  # past the eight colours: dashed


def test_lfm_plot_style_paper_writes_pdf_or_300_dpi_png(tmp_path: Path, capsys) -> None:
    from test_plot import TESTS, fake_run, write_events

    sweep = tmp_path / "sweep"
    for (method, seed), test in TESTS.items():
        write_events(fake_run(sweep / f"method.name={method}" / f"seed-{seed}", method, seed, test), method, seed)
    assert plot_main([str(sweep), "--out", str(tmp_path / "a"), "--style", "paper"]) == 0
    first = (tmp_path / "a" / "bars.pdf").read_bytes()
    assert first.startswith(b"%PDF") and (tmp_path / "a" / "curves.pdf").read_bytes().startswith(b"%PDF")
    assert plot_main([str(sweep), "--out", str(tmp_path / "b"), "--style", "paper"]) == 0
    assert (tmp_path / "b" / "bars.pdf").read_bytes() == first  # no date: the same runs, the same file
    assert plot_main([str(sweep), "--out", str(tmp_path / "c"), "--style", "paper", "--format", "png",
                      "--columns", "1", "--figures", "bars"]) == 0
    from PIL import Image

    with Image.open(tmp_path / "c" / "bars.png") as im:
        assert im.size[0] == round(COLUMN_IN[1] * 300) and im.info["dpi"] == pytest.approx((300, 300), abs=0.1)
    assert plot_main([str(sweep), "--out", str(tmp_path / "e"), "--figures", "bars"]) == 0  # draft: 150 dpi
    with Image.open(tmp_path / "e" / "bars.png") as im:
        assert im.size[0] == round(9.8 * 150) and im.info["dpi"] == pytest.approx((150, 150), abs=0.1)
    capsys.readouterr()
    for bad, message in ((["--columns", "3"], "--columns: expected 1 or 2, found 3"),
                         (["--columns", "1", "--size", "3x3"], "--columns and --size: give one of them"),
                         (["--style", "poster"], "--style: expected one of draft, paper, found 'poster'"),
                         (["--bars", "pie"], "--bars: expected one of auto, bars, dots, found 'pie'")):
        assert plot_main([str(sweep), "--out", str(tmp_path / "d"), *bad]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "d").exists()


def test_confusion_matrices_name_the_classes_with_title_and_colour_bar() -> None:
    from engine.training import confusion

    names = ["cat", "dog", "a very long class name"]
    painter = confusion.Painter(names)
    matrix = [[3, 1, 0], [0, 2, 2], [0, 0, 0]]
    image = painter.render("fused", matrix, "val, epoch 2: fused (acc 71.4%)", shares=True)
    assert image.shape == (confusion.image_size(3), confusion.image_size(3), 3)
    fig = painter.figure("fused")
    ax, bar_ax = fig.axes
    shown = ax.images[0]
    assert ax.get_title() == "val, epoch 2: fused (acc 71.4%)"
    assert tick_texts(ax.get_xticklabels()) == tick_texts(ax.get_yticklabels()) == ["cat", "dog", "a very long…"]
    assert ax.get_xlabel() == "Predicted label" and ax.get_ylabel() == "True label"
    assert shown.colorbar is not None and shown.colorbar.ax is bar_ax
    assert bar_ax.get_ylabel() == "share of the true class's samples" and shown.get_clim() == (0, 1)
    assert shown.get_array().tolist() == [[0.75, 0.25, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 0.0]]
    assert not any(t.get_text() for t in ax.texts)  # shares: no numbers in the cells
    painter.render("fused", matrix, "test, epoch 2: fused", shares=False)
    counts = painter.figure("fused").axes
    assert counts[1].get_ylabel() == "samples" and counts[0].images[0].get_clim() == (0, 3)
    assert [t.get_text() for t in counts[0].texts][:3] == ["3", "1", ""]  # zeros left blank


def test_gap_picture_has_a_legend_on_each_panel() -> None:
    torch = pytest.importorskip("torch")
    from engine.review.gap import gap_figure

    g = torch.Generator().manual_seed(0)
    emb = {m: torch.nn.functional.normalize(torch.randn(30, 8, generator=g) + s, dim=-1)
           for m, s in (("image", 1.0), ("text", -1.0))}
    fig = gap_figure(emb, torch.arange(30) % 3, ["zero", "one", "two"], "pca", 0, "toy: modality gap")
    left, right = fig.axes
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["image", "text"]
    assert left.get_legend().get_title().get_text() == "modality"
    classes = right.get_legend()
    assert classes.get_title().get_text() == "class"
    assert [t.get_text() for t in classes.get_texts()] == ["zero", "one", "two"]
    (marks,) = [a for a in right.artists if isinstance(a, Legend)]
    assert [t.get_text() for t in marks.get_texts()] == ["image", "text"]
    assert [ax.get_xlabel() for ax in fig.axes] == ["PC1", "PC1"]


def test_gradcam_panel_has_a_colour_bar_at_a_readable_size() -> None:
    torch = pytest.importorskip("torch")
    from engine.review import gradcam as rc

    x, cam = torch.rand(3, 32, 32), torch.rand(32, 32)
    fig = rc.panel_figure(x, cam, "true cat / pred dog")
    assert fig.get_suptitle() == "true cat / pred dog"
    image_axes = [ax for ax in fig.axes if ax.images]
    assert [ax.get_xlabel() for ax in image_axes] == ["input", "Grad-CAM"]
    (bar,) = [ax for ax in fig.axes if ax.get_ylabel() == "relative attribution"]
    assert bar.get_ylim() == (0.0, 1.0)
    drawn(fig)
    for ax in image_axes:  # each image at least PANEL_SIDE pixels a side, less the margins it shares
        assert ax.get_window_extent().height >= 0.9 * rc.PANEL_SIDE
    tile = rc.panel(x, cam, "true cat / pred dog")
    assert tile.shape[0] >= rc.PANEL_SIDE + 30 and tile.shape[1] >= 2 * rc.PANEL_SIDE + 60  # 142 x 264 before


def test_the_reproduction_figures_are_written_whole_and_never_through_a_link(tmp_path) -> None:
    """`python -m lfm_plot.alpha_fraction` (and gradcam_epochs, through the same spec_command) write their PNG as `lfm plot` does:
    through a temporary file, refusing a link planted at the output (its target stays absent)."""
    import json
    import subprocess
    import sys

    spec = tmp_path / "series.json"
    spec.write_text(json.dumps({"emoji": [{"fraction": 0.5, "epoch": 1, "alpha": 0.5, "std": None,
                                           "runs": 1, "omega": 0.63}]}))
    (tmp_path / "out.png").symlink_to(tmp_path / "outside.png")
    res = subprocess.run([sys.executable, "-m", "lfm_plot.alpha_fraction", str(spec), str(tmp_path / "out.png")],
                         capture_output=True, text=True)  # gradcam_epochs writes through the same spec_command
    assert res.returncode == 2 and "symbolic link" in res.stderr, res.stderr
    assert not (tmp_path / "outside.png").exists()
    res = subprocess.run([sys.executable, "-m", "lfm_plot.alpha_fraction", str(spec), str(tmp_path / "ok.png")],
                         capture_output=True, text=True)
    assert res.returncode == 0 and (tmp_path / "ok.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def redraw_sweep(tmp_path: Path) -> Path:
    """The figures and JSON files `lfm plot` writes of two configurations x two seeds."""
    from test_plot import TESTS, fake_run, write_events

    sweep = tmp_path / "sweep"
    for (method, seed), test in TESTS.items():
        write_events(fake_run(sweep / f"method.name={method}" / f"seed-{seed}", method, seed, test), method, seed)
    assert plot_main([str(sweep), "--out", str(tmp_path / "a")]) == 0
    return tmp_path / "a"


def test_a_figure_drawn_again_from_its_json_file_has_the_files_numbers(tmp_path: Path, capsys) -> None:
    import json

    from lfm_plot.__main__ import build, parse

    out = redraw_sweep(tmp_path)
    doc = json.loads((out / "bars.json").read_text())
    (name, fig), = build(parse(["--from", str(out / "bars.json"), "--style", "paper", "--format", "png",
                                "--bars", "bars"]))
    fig = drawn(fig)
    assert name == "bars.png" and fig.dpi == 300 and fig.get_size_inches()[0] == COLUMN_IN[2]
    assert [ax.get_title() for ax in fig.axes] == [m["name"] for m in doc["metrics"]] == ["fused ACC", "ACC pix", "ACC mor"]
    assert tick_texts(fig.axes[0].get_yticklabels()) == [r["label"] for r in doc["rows"]]
    widths = {p.get_gid(): p.get_width() for ax in fig.axes for p in ax.patches}
    assert widths == {f"bar-{k}-{i}": r["values"][k]["mean"] for i, r in enumerate(doc["rows"]) for k in r["values"]}
    assert sorted(widths.values()) == pytest.approx([35.5, 53.0, 81.5, 81.75, 85.5, 91.5])  # TESTS' means
    assert all(ax.get_xlim()[0] == 0.0 for ax in fig.axes)  # bars from zero
    (_, dots), = build(parse(["--from", str(out / "bars.json"), "--out", str(tmp_path)]))
    assert not any(ax.patches for ax in dots.axes)  # the kind the file says it was drawn as (close rows: dots)

    doc = json.loads((out / "curves.json").read_text())
    (name, fig), = build(parse(["--from", str(out / "curves.json"), "--style", "paper", "--format", "png"]))
    labels = [r["label"] for r in doc["panels"][1]["rows"]]  # validation ACC, fused: every row
    lines = {ln.get_gid(): (list(ln.get_xdata()), list(ln.get_ydata())) for ax in fig.axes for ln in ax.lines}
    want = {f"curve-{p['key']}-{labels.index(r['label'])}": (r["x"] + ([r["until"]] if "until" in r else []),
                                                             r["mean"] + (r["mean"][-1:] if "until" in r else []))
            for p in doc["panels"] for r in p["rows"]}
    assert lines == want and len(want) == 1 + 2 * 3  # alpha of lfm; fused, pix and mor of both
    assert [ax.get_title() for ax in fig.axes] == [p["title"] for p in doc["panels"]]
    assert fig.axes[0].lines[0].get_drawstyle() == "steps-post" and fig.axes[0].get_xlim()[0] == 0.0
    assert [t.get_text() for t in fig.legends[0].get_texts()] == labels
    before = (out / "curves.json").read_bytes()
    capsys.readouterr()
    assert plot_main(["--from", str(out / "curves.json"), "--prefix", "again_", "--format", "svg"]) == 0
    assert (out / "again_curves.svg").read_bytes().startswith(b"<?xml")  # beside the file, named after it
    assert (out / "curves.json").read_bytes() == before


@pytest.mark.parametrize("text, message", [
    ('{"metrics": [{"key": "acc", "name": "fused ACC"}], "rows": [{"label": "a", "val', "not a JSON file"),
    ('{"metrics": [{"key": "acc", "name": "fused ACC"}], "rows": "a"}', "rows: expected a non-empty list"),
    ('{"metrics": [{"key": "acc", "name": "fused ACC"}], "rows": [{"label": "a", "values": {"acc": {"mean": "9"}}}]}',
     "row 1 acc mean: expected a number, found '9'"),
    ('{"panels": [{"key": "fused", "title": "t", "rows": [{"label": "a", "x": [1, 2], "mean": [1], "std": [null]}]}]}',
     "x, mean and std of different lengths (2, 1, 1)"),
    ('{"panels": [{"key": "fused", "title": "t", "rows": [{"label": "a", "x": [1], "mean": [NaN], "std": [0]}]}]}',
     "not a JSON file"),
    ("[" * 100 + "]" * 100, "not a JSON file"),
    ('{"figure": "pie"}', "expected the curves (\"panels\") or bars"),
], ids=["cut-short", "rows-not-a-list", "mean-as-text", "lengths-differ", "nan", "nested-100-deep", "other-shape"])
def test_a_damaged_json_file_is_refused_in_one_line(tmp_path: Path, capsys, text: str, message: str) -> None:
    bad = tmp_path / "bars.json"
    bad.write_text(text)
    assert plot_main(["--from", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and str(bad) in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_the_docs_bars_figure_is_drawn_from_its_json_with_the_numbers_fashion_md_says() -> None:
    """docs/figures/fashion_bars.png is drawn from fashion_bars.json (`lfm plot --from`), whose
    mmtm row predates that method's correction: fashion.md says the figure shows 56.8 % for its
    noisy part, and so it does."""
    from lfm_plot.__main__ import build, parse

    root = Path(__file__).resolve().parents[1]
    source = root / "docs" / "figures" / "fashion_bars.json"
    (name, fig), = build(parse(["--from", str(source), "--style", "paper", "--format", "png", "--dpi", "150"]))
    assert name == "fashion_bars.png"
    noisy = fig.axes[[ax.get_title() for ax in fig.axes].index("ACC noisy")]
    widths = {int(p.get_gid().rsplit("-", 1)[1]): p.get_width() for p in noisy.patches}
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert round(widths[labels.index("mmtm")], 1) == 56.8 and noisy.get_xlim()[0] == 0.0
    page = " ".join((root / "docs" / "fashion.md").read_text().split())
    assert "`mmtm`'s noisy part 84.8 % instead of the 56.8 % drawn" in page
