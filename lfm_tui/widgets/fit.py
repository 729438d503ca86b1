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


def column_width(heading: str, rows: Sequence[Sequence], i: int) -> int:
    return max([cell_len(heading)] + [cell_len(plain(r[i])) for r in rows]) + PADDING


def table_width(headings: Sequence[str], rows: Sequence[Sequence]) -> int:
    return sum(column_width(h, rows, i) for i, h in enumerate(headings))


def fit(headings: Sequence[str], rows: Sequence[Sequence], width: int,
        steps: Sequence[Step]) -> tuple[list[str], list[str], list[list]]:
    """(column keys, headings, rows) that fit `width` cells: `steps` taken in order until they do,
    then the columns left out put back, the last left out first, where they fit after all (none
    of it when `width` is 0 or less: the table not laid out yet)."""
    keys, heads, cells = list(headings), list(headings), [list(r) for r in rows]
    widths = [column_width(h, cells, i) for i, h in enumerate(heads)]
    dropped: list[int] = []
    for name, shorten, heading in steps:
        if width <= 0 or sum(w for i, w in enumerate(widths) if i not in dropped) <= width:
            break
        i = keys.index(name) if name in keys else -1
        if i < 0 or i in dropped:
            continue
        if shorten is None:
            dropped.append(i)
        else:
            heads[i] = heading or heads[i]
            for r in cells:
                r[i] = shorten(r[i])
            widths[i] = column_width(heads[i], cells, i)
    for i in reversed(list(dropped)):
        if sum(w for j, w in enumerate(widths) if j not in dropped) + widths[i] <= width:
            dropped.remove(i)
    kept = [i for i in range(len(keys)) if i not in dropped]
    return [keys[i] for i in kept], [heads[i] for i in kept], [[r[i] for i in kept] for r in cells]
