"""The results pages' partial regeneration (benchmarks/pages.py and its use by
benchmarks/make_results.py and benchmarks/fashion_imbalance.py): rows read by their first cell,
rerun rows put in place of theirs, every other row carried over byte for byte, a header that
says which is which, and clear errors where the page lacks what is needed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import pages  # noqa: E402

HEAD = "| method | seeds | ACC | gap (ACC) |"
TABLE = "\n".join([
    "intro line generated 2026-11-29",
    "",
    HEAD,
    "|---|---:|---:|---:|",
    "| pix alone | 3 | 97.22 ± 0.51 | - |",
    "| concat | 3 | 98.22 ± 0.19 | 50.11 ± 1.17 |",
    "| mmtm | 3 | 98.22 ± 0.19 | 47.67 ± 1.76 |",
    "| lfm | 3 | 98.00 ± 0.33 | 49.56 ± 2.34 |",
    "",
    "- an observation",
]) + "\n"


def test_row_label_is_the_first_cell_and_none_for_separators_and_prose():
    assert pages.row_label("| mmtm | 3 | 98.22 ± 0.19 |") == "mmtm"
    assert pages.row_label("| LFM, alpha = 0.5 fixed | 5 | 88.01 |") == "LFM, alpha = 0.5 fixed"
    assert pages.row_label("|---|---:|---:|") is None
    assert pages.row_label("- an observation") is None
    assert pages.row_label("|") is None


def test_table_rows_reads_the_body_by_label_in_page_order():
    rows = pages.table_rows(TABLE, HEAD)
    assert list(rows) == ["pix alone", "concat", "mmtm", "lfm"]
    assert rows["mmtm"] == "| mmtm | 3 | 98.22 ± 0.19 | 47.67 ± 1.76 |"


def test_table_rows_errors_on_a_missing_table_and_a_repeated_label():
    with pytest.raises(pages.PageError, match="no table with the header"):
        pages.table_rows(TABLE, "| row | n |")
    # the same table (first header cell) with other columns: written before the columns changed
    with pytest.raises(pages.PageError) as err:
        pages.table_rows(TABLE, "| method | n |")
    assert str(err.value) == (f"the page's table has the header {HEAD!r}, not '| method | n |' as written now "
                              "(its columns changed since the page was made): regenerate the section whole, "
                              "without --methods")
    with pytest.raises(pages.PageError, match="two rows labelled 'concat'"):
        pages.table_rows(TABLE.replace("| mmtm |", "| concat |"), HEAD)


def test_merge_rows_replaces_the_rerun_rows_and_carries_the_others_byte_for_byte():
    old = pages.table_rows(TABLE, HEAD)
    new = {"mmtm": "| mmtm | 3 | 98.56 ± 0.19 | 40.00 ± 1.00 |", "reconboost": "| reconboost | 3 | 97.00 | 1.00 |",
           "concat": "| concat | 3 | 11.11 | 11.11 |"}  # concat is not rerun: its new line must not be used
    merged = pages.merge_rows(old, new, ["mmtm", "reconboost"])
    assert merged == [old["pix alone"], old["concat"], new["mmtm"], old["lfm"], new["reconboost"]]
    text = pages.replace_rows(TABLE, HEAD, merged)
    assert text.splitlines()[:4] == TABLE.splitlines()[:4]
    assert text.endswith("| reconboost | 3 | 97.00 | 1.00 |\n\n- an observation\n")
    assert "98.56 ± 0.19" in text and "98.22 ± 0.19 | 47.67" not in text and "11.11" not in text


def test_merge_rows_errors_where_a_rerun_row_has_no_runs():
    with pytest.raises(pages.PageError, match="rows agm were to be regenerated"):
        pages.merge_rows(pages.table_rows(TABLE, HEAD), {}, ["agm"])


def test_provenance_names_the_rerun_rows_the_command_and_the_earlier_dates():
    text = pages.provenance("rows mmtm, reconboost", "2026-12-06", "python benchmarks/make_results.py --methods mmtm",
                            "`recipes/mfeat.toml` as shipped; generated 2026-11-29; 3.4 min", "their code did not change.")
    assert text == ("Partial regeneration: rows mmtm, reconboost regenerated 2026-12-06 by "
                    "`python benchmarks/make_results.py --methods mmtm`; every other row carried over unchanged "
                    "from the earlier generation (2026-11-29): their code did not change.")


def test_provenance_of_the_same_rows_rerun_again_keeps_the_carried_rows_dates():
    first = pages.provenance("rows mmtm", "2026-12-06", "cmd", "generated 2026-11-29", "why")
    assert pages.provenance("rows mmtm", "2026-12-07", "cmd", first, "why").endswith(
        "from the earlier generation (2026-11-29): why.")
    assert pages.provenance("rows agm", "2026-12-07", "cmd", first, "why").endswith(
        "from the earlier generations (2026-11-29, 2026-12-06): why.")


def test_command_line_quotes_arguments_elides_the_reason_and_leaves_report_only_out():
    assert pages.command_line("benchmarks/make_results.py", ["--only", "mfeat", "--methods", "mmtm", "--why",
                                                             "code's unchanged", "--report-only", "--out", "a b.md"]) == \
        "python benchmarks/make_results.py --only mfeat --methods mmtm --why \"…\" --out 'a b.md'"


def test_sections_split_a_page_by_its_level_two_headings():
    page = "# Title\n\npreamble\n\n## mfeat (pix + mor)\n\nbody a\n\n## emoji (image + text)\n\nbody b\n"
    got = pages.sections(page)
    assert got == {"mfeat": "## mfeat (pix + mor)\n\nbody a\n", "emoji": "## emoji (image + text)\n\nbody b\n"}


def test_observations_are_computed_from_the_tables_cells():
    """A partial regeneration recomputes the observations from the table as shown: the best
    single modality, who beats it (by a standard deviation on both sides), LFM's ranks."""
    import make_results

    head = "| method | seeds | ACC | ACC image | ACC text | gap (ACC) |"
    text = "\n".join([head, "|---|---:|---:|---:|---:|---:|",
                      "| image alone | 3 | 65.51 ± 2.09 | 65.51 ± 2.09 | - | - |",
                      "| text alone | 3 | 81.18 ± 1.39 | - | 81.18 ± 1.39 | - |",
                      "| concat | 3 | 83.51 ± 0.88 | 48.78 ± 4.79 | 76.07 ± 1.79 | 27.29 ± 6.58 |",
                      "| mla | 3 | 84.20 ± 1.12 | 62.14 ± 1.12 | 80.02 ± 0.40 | 17.89 ± 1.41 |",
                      "| ml_lstm | 1 | 78.16 | 28.69 | 56.33 | 27.64 |",
                      "| lfm | 3 | 82.69 ± 1.45 | 57.14 ± 2.12 | 72.94 ± 2.79 | 15.80 ± 3.24 |"])
    entries = [make_results.Entry.of_cells(pages.cells(head), pages.cells(line), ("image", "text"))
               for line in pages.table_rows(text, head).values()]
    assert [e.method for e in entries] == ["unimodal", "unimodal", "concat", "mla", "ml_lstm", "lfm"]
    assert entries[4].acc == (78.16, None)
    assert make_results.observations(entries) == [
        "- Best single modality: text alone, 81.18 ± 1.39 ACC.",
        "- Fused ACC above it (mean): concat, mla, lfm (3 of 4); by more than one standard deviation on both "
        "sides: concat, mla (rows with two or more seeds).",
        "- lfm: 82.69 ± 1.45 ACC, rank 3 of 4 multimodal rows by mean fused ACC (best: mla, 84.20).",
        "- Gap between the modalities' parts: lfm 15.80, rank 1 of 4 from smallest (smallest: lfm, 15.80; "
        "concat: 27.29).",
    ]
    with pytest.raises(pages.PageError, match="'lfm': 'n/a' is no 'mean ± std' cell"):
        make_results.Entry.of_cells(["method", "ACC"], ["lfm", "n/a"], ("image", "text"))


def test_the_fashion_partial_merge_rewrites_the_rerun_rows_and_carries_the_rest():
    import fashion_imbalance as fi

    page = (ROOT / "docs" / "fashion.md").read_text(encoding="utf-8")
    old = page.split(pages.START, 1)[1].split(pages.END, 1)[0]
    old_rows = pages.table_rows(old, fi.METHODS_HEAD)
    new_mmtm = "| mmtm | 5 | 12.34 ± 0.10 | -1.00 ± 0.10 | -2.00 ± 0.10 | 1.00 | 2.00 | -3.00 | 4.00 | x |"
    # the new block as a partial run makes it: the other rows not run, no learned alpha line
    block = old.replace(old_rows["mmtm"], new_mmtm).replace(
        old_rows["sum"], "| sum | 0 | not run | | | | | | | |")
    block = "\n".join(ln for ln in block.strip("\n").splitlines() if not ln.startswith("The learned alpha")) + "\n"
    out = fi.partial(old, block, ["mmtm", "reconboost"], "python benchmarks/fashion_imbalance.py --methods mmtm",
                     "the other methods' code did not change")
    rows = pages.table_rows(out, fi.METHODS_HEAD)
    assert rows["mmtm"] == new_mmtm
    assert rows["sum"] == old_rows["sum"]
    assert list(rows) == list(old_rows)
    assert [ln for ln in out.splitlines() if ln.startswith("The learned alpha")] == \
        [ln for ln in old.splitlines() if ln.startswith("The learned alpha")]
    first = out.splitlines()[0]
    assert "rows concatenation, mmtm, reconboost regenerated" in first
    assert "`python benchmarks/fashion_imbalance.py --methods mmtm`" in first
    assert "reproduced the earlier generation's symptom table exactly" in first
    thumb = pages.table_rows(block, fi.SYMPTOM_HEAD)["thumb alone"]
    changed = block.replace(thumb, "| thumb alone | 12.34 ± 0.13 | 5 |")
    first = fi.partial(old, changed, ["mmtm", "reconboost"], "cmd", "why").splitlines()[0]
    assert "did not reproduce the earlier generation's symptom table" in first
    assert "Incomplete" not in first
    three = block.replace(new_mmtm, new_mmtm.replace("| mmtm | 5 |", "| mmtm | 3 |"))
    first = fi.partial(old, three, ["mmtm", "reconboost"], "cmd", "why").splitlines()[0]
    assert "**Incomplete: fewer than 5 seeds in mmtm (3)**" in first
    unrun = block.replace(old_rows["reconboost"], "| reconboost | 0 | not run | | | | | | | |")
    with pytest.raises(pages.PageError, match="rows reconboost were to be regenerated"):
        fi.partial(old, unrun, ["mmtm", "reconboost"], "cmd", "why")


@pytest.mark.parametrize("script,args,message", [
    ("make_results.py", ["--methods", "nosuch", "--why", "w"], "--methods: unknown nosuch"),
    ("make_results.py", ["--methods", "mmtm"], "--methods needs --why"),
    ("make_results.py", ["--methods", "mmtm", "--why", "w", "--out", "{tmp}/none.md"], "no such page"),
    ("fashion_imbalance.py", ["--methods", "concat", "--why", "w"], "--methods: unknown concat"),
    ("fashion_imbalance.py", ["--methods", "mmtm", "--why", "w", "--out", "{tmp}/none.md"], "no such page"),
])
def test_bad_partial_requests_exit_2_with_one_message(tmp_path, script, args, message):
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--report-only",
                        *(a.format(tmp=tmp_path) for a in args)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr
