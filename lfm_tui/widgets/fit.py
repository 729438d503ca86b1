"""A table's columns fitted to its width: the low-priority columns shortened or left out, in the
order a table gives, until its row fits, so that the numbers that matter are never cut off the
right edge; names shortened keep an ellipsis."""
from __future__ import annotations

from typing import Callable, Sequence

from rich.cells import cell_len
from rich.text import Text

# (column, None): the column left out; (column, shorten, heading): its cells shortened, its heading renamed
Step = tuple[str, "Callable | None", "str | None"]
PADDING = 2  # a DataTable cell's padding, both sides together


def plain(cell) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def ellipsize(cell, width: int):
    """The cell within `width` characters, `…` at the end when shortened (a Text keeps its style)."""
    if cell_len(plain(cell)) <= width:
        return cell
    if isinstance(cell, Text):
        out = cell.copy()
        out.truncate(width, overflow="ellipsis")
        return out
    return str(cell)[:width - 1] + "…"


def shortened(width: int) -> Callable:
    return lambda cell: ellipsize(cell, width)


def table_width(headings: Sequence[str], rows: Sequence[Sequence]) -> int:
    return sum(max([cell_len(h)] + [cell_len(plain(r[i])) for r in rows]) + PADDING for i, h in enumerate(headings))


def fit(headings: Sequence[str], rows: Sequence[Sequence], width: int,
        steps: Sequence[Step]) -> tuple[list[str], list[str], list[list]]:
    """(column keys, headings, rows) that fit `width` cells, `steps` taken in order until they do
    (none when `width` is 0 or less: the table not laid out yet)."""
    keys, heads, cells = list(headings), list(headings), [list(r) for r in rows]
    for name, shorten, heading in steps:
        if width <= 0 or table_width(heads, cells) <= width:
            break
        if name not in keys:
            continue
        i = keys.index(name)
        if shorten is None:
            for seq in (keys, heads, *cells):
                del seq[i]
        else:
            heads[i] = heading or heads[i]
            for r in cells:
                r[i] = shorten(r[i])
    return keys, heads, cells
