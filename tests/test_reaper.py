"""The Ray watcher's bookkeeping (lfm_tui/executors/reaper.py), fast and without starting
anything; tests/test_orphans.py kills real processes with it (slow)."""
from __future__ import annotations

import os
import sys

import pytest

from lfm_tui.executors.reaper import descendants, processes


def test_descendants_are_read_from_the_process_table_by_parent() -> None:
    table = {10: (1, "100"), 11: (10, "101"), 12: (11, "102"), 13: (1, "103"), 14: (13, "104")}
    assert descendants(10, table) == {11: "101", 12: "102"}
    assert descendants(13, table) == {14: "104"}
    assert descendants(12, table) == {}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_the_process_table_holds_this_process_and_its_parent() -> None:
    table = processes()
    assert table[os.getpid()][0] == os.getppid()
