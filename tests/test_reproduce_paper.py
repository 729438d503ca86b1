"""The paper's reported numbers as data (lfm_tui/reproduce/paper.toml): values typed from the
paper's Tables 1-5 and section 4.4 found at their table, row, dataset, metric and part, the
blanks left blank, and a damaged copy refused with a message naming the entry."""
from __future__ import annotations

from pathlib import Path

import pytest

from lfm_tui.reproduce import paper

# (table, row, dataset, metric, part, value, std), typed from the paper
TYPED = [
    ("table1", "Concat", "cremad", "acc", "fused", 63.31, None),
    ("table1", "Ours-LB", "kinetics_sounds", "map", "fused", 78.38, 0.37),
    ("table1", "MLA", "twitter2015", "f1", "fused", 67.13, None),
    ("table1", "ReconBoost", "nvgesture", "f1", "fused", 86.32, None),
    ("table1", "Ours-H", "sarcasm", "f1", "fused", 83.98, 0.22),
    ("table2", "MMPareto", "vggsound", "map", "fused", 54.74, None),
    ("table3", "CL and DI", "cremad", "map", "gap", 7.91, None),
    ("table3", "no CL, no DI", "twitter2015", "f1", "image", 40.99, None),
    ("table4", "Ours-LB", "cremad", "acc", "video", 64.89, None),
    ("table4", "stepwise h(0.95)", "kinetics_sounds", "acc", "fused", 53.41, None),
    ("table5", "CLIP+Ours", "twitter2015", "acc", "image", 64.67, None),
    ("section4.4", "polynomial", "kinetics_sounds", "map", "fused", 76.28, None),
]


@pytest.mark.parametrize("table,row,dataset,metric,part,value,std", TYPED)
def test_a_number_typed_from_the_paper_is_in_the_file(table, row, dataset, metric, part, value, std) -> None:
    n = paper.lookup(table, row, dataset, metric, part)
    assert n is not None and n.value == value and n.std == std


def test_every_table_is_complete_and_its_blanks_stay_blank() -> None:
    nums = paper.numbers()
    count = {t: sum(n.table == t for n in nums) for t in paper.TABLES}
    # Table 1: 23 rows x 10 columns less 22 blank cells; Table 2: 6 x 2; Table 3: 4 datasets x 3
    # rows x 4 columns; Table 4: 2 x (7 + 3 + 3); section 4.4: 2; Table 5: 3 x 6
    assert count == {"table1": 208, "table2": 12, "table3": 48, "table4": 26, "section4.4": 2, "table5": 18}
    assert paper.lookup("table1", "OGM", "nvgesture", "acc") is None       # "-" in the paper
    assert paper.lookup("table1", "Channel", "sarcasm", "acc") is None
    assert paper.lookup("table1", "Unimodal-2", "nvgesture", "acc").modality == "flow"   # RGB / OF / Depth
    assert paper.lookup("table1", "Unimodal-1", "sarcasm", "acc").modality == "image"


@pytest.mark.parametrize("entry,message", [
    ('{table = "table1", row = "Concat", column = "ACC", dataset = "cremad", metric = "acc", part = "fused", value = 163.31}',
     "entry 1 (table1, Concat, cremad): bad value"),
    ('{table = "table9", row = "Concat", column = "ACC", dataset = "cremad", metric = "acc", part = "fused", value = 63.31}',
     "entry 1 (table9, Concat, cremad): bad table"),
    ('{table = "table1", row = "Concat", column = "ACC", dataset = "cremad", metric = "acc", value = 63.31, extra = 1}',
     "entry 1: unknown keys extra; missing part"),
])
def test_a_damaged_numbers_file_is_refused_naming_the_entry(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "paper.toml"
    path.write_text(f"numbers = [\n  {entry},\n]\n")
    with pytest.raises(paper.PaperFileError) as info:
        paper.read(path)
    assert str(info.value) == f"{path}: {message}"


def test_a_cell_given_twice_or_a_file_too_large_is_refused(tmp_path: Path) -> None:
    e = '{table = "table2", row = "AGM", column = "ACC", dataset = "vggsound", metric = "acc", part = "fused", value = 47.11}'
    path = tmp_path / "paper.toml"
    path.write_text(f"numbers = [{e}, {e}]\n")
    with pytest.raises(paper.PaperFileError, match="table2, AGM, vggsound, acc, fused is given twice"):
        paper.read(path)
    path.write_text("# " + "x" * paper.MAX_BYTES + "\nnumbers = []\n")
    with pytest.raises(paper.PaperFileError, match="larger than"):
        paper.read(path)
