"""The `lfm` commands that find runs and mark them: runs (the history's list, headless), tag and
note (engine/contract/annotations.py). Registered on the app of lfm_tui/cli_app.py."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from engine.contract import annotations
from engine.contract.errors import UserError
from lfm_tui.cli_app import app

NOTE_SHOWN = 60  # characters of a note in the table (--json gives it whole)


def _acc(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}"


def _row(r, indent: str) -> list:
    from rich.text import Text

    from lfm_tui.lines import hms

    acc = _acc
    marks = annotations.text(annotations.Annotations(r.tags, r.note))
    return [Text(indent + r.date), Text(r.recipe), Text(r.status), Text("" if r.seed is None else str(r.seed)),
            Text(r.method), Text(r.alpha), Text(r.overrides), acc(r.best_acc), acc(r.test_acc),
            "" if r.seconds is None else hms(r.seconds), Text(str(r.path)),
            Text(marks if len(marks) <= NOTE_SHOWN else marks[:NOTE_SHOWN - 1] + "…")]


@app.command()
def runs(
    runs_dir: Annotated[Path, typer.Argument(help="the runs folder")] = Path("runs"),
    filter_text: Annotated[Optional[str], typer.Option(
        "--filter", help="only runs matching every word: recipe, method, status, tag, note, folder, or key=value "
                         "of the recipe (e.g. --filter 'mfeat lr=0.01 #baseline')")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the runs as JSON")] = False,
) -> None:
    """List every run under the runs folder, the runs of sweeps and seed series under their
    folder, newest first: status (running while a process executes it), seed, method, what
    differs from the recipe, best validation and test ACC, time, tags and note."""
    from rich.table import Table
    from rich.text import Text

    from lfm_tui import limits, run_index
    from lfm_tui.headless import fit, make_console

    if not runs_dir.is_dir():
        raise UserError(f"{runs_dir}: no such folder (give the runs folder: lfm runs path/to/runs)")
    index = run_index.scan(runs_dir, Path("recipes"))
    if filter_text:
        index = run_index.filtered(index, filter_text)
    if json_out:
        typer.echo(json.dumps({"runs_dir": str(runs_dir), "found": index.found,
                               "runs": [run_index.as_dict(r) for r in index.runs]}, indent=1))
        return
    console = make_console()
    table = Table(title=Text(f"runs in {runs_dir} ({len(index.runs)}"
                             + (f" matching {filter_text!r}" if filter_text else "") + ")"), title_justify="left")
    for head in ("date", "recipe", "status", "seed", "method", "alpha", "overrides", "val ACC", "test ACC", "time",
                 "folder", "tags, note"):
        table.add_column(head, justify="right" if head in ("seed", "val ACC", "test ACC", "time") else "left")
    for item in index.items():
        if isinstance(item, run_index.Group):
            table.add_row(Text(f"{item.kind}, {len(item.runs)} runs", style="bold"), *[""] * 9,
                          Text(str(runs_dir / item.name), style="bold"), "")
            for r in item.runs:
                table.add_row(*_row(r, "  "))
        else:
            table.add_row(*_row(item, ""))
    fit(console, table)
    console.print(table)
    if index.left_out:
        console.print(Text(f"{index.left_out} more not listed", style="dim"))
    if index.walk_cut:
        console.print(Text(f"{runs_dir} holds more folders than are looked into ({limits.INDEX_MAX_FOLDERS}); "
                           f"give a folder further down", style="yellow"))


@app.command()
def tag(
    run: Annotated[Path, typer.Argument(help="the run folder")],
    tags: Annotated[list[str], typer.Argument(help="tags to add (or remove with --remove)")],
    remove: Annotated[bool, typer.Option("--remove", help="remove these tags instead")] = False,
) -> None:
    """Tag a run (shown and filterable in the history and `lfm runs`, in `lfm compare`'s labels)."""
    notes = annotations.tag(run, remove=tags) if remove else annotations.tag(run, add=tags)
    typer.echo(f"{run}: tags {' '.join(notes.tags) or '(none)'}")


@app.command()
def note(
    run: Annotated[Path, typer.Argument(help="the run folder")],
    text: Annotated[str, typer.Argument(help="the note (\"\" removes it)")],
) -> None:
    """Write a note on a run (replacing the one it had), shown in the history and `lfm runs`."""
    annotations.set_note(run, text)
    typer.echo(f"{run}: note {'written' if text.strip() else 'removed'}")
