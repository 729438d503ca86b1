"""A mistake in `lfm`'s command line or input is one error type (engine.contract.errors.UserError), raised
by the command and caught once by the Typer app (lfm_tui/cli_app.py): the message on stderr and
exit status 2. The commands name every exit status (engine/contract/outcome.py), never a number."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from engine.contract.errors import UserError
from engine.contract.writes import LinkRefused
from engine.contract.outcome import EXIT_USAGE
from lfm_tui.cli import app
from lfm_tui.cli_app import Group

ROOT = Path(__file__).resolve().parents[1]


def test_a_user_error_raised_by_any_command_is_its_message_and_exit_2() -> None:
    demo = typer.Typer(cls=Group)

    @demo.command()
    def plain() -> None:
        raise UserError("--x 3: expected 1 or 2")

    @demo.command()
    def link() -> None:   # a subclass: the same one line
        raise LinkRefused("out.md")

    for name, message in (("plain", "--x 3: expected 1 or 2"), ("link", str(LinkRefused("out.md")))):
        res = CliRunner().invoke(demo, [name])
        assert res.exit_code == EXIT_USAGE == 2, res.output
        assert isinstance(res.exception, SystemExit)   # caught: no exception left to the caller
        assert res.output.strip() == message and message.startswith(("--x 3", "out.md is a symbolic link"))


def test_the_commands_report_their_usage_errors_through_the_app(tmp_path: Path) -> None:
    cases = [(["run", "--log-format", "xml"], "--log-format: expected one of"),
             (["sweep", "--status", str(tmp_path), str(tmp_path / "r.toml")], "--status takes only the sweep folder"),
             (["compare", str(tmp_path)], "not a run folder and holds none"),
             (["tensorboard", str(tmp_path / "nope")], "no such folder"),
             (["validate", str(tmp_path / "missing.toml")], "missing.toml")]
    for args, words in cases:
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert words in res.output and "Traceback" not in res.output, (args, res.output)


def test_lfm_tui_alone_reports_a_usage_error_in_one_line(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-c", "from lfm_tui.cli import tui_main; tui_main()",
                          str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == f"{tmp_path / 'nope'}: no such folder of recipes (give one: lfm tui path/to/recipes)"


def test_the_commands_write_no_exit_status_as_a_number() -> None:
    """`typer.Exit(2)` and its kin: every status is EXIT_OK, EXIT_FAILED, EXIT_USAGE or
    EXIT_CANCELLED; and no command prints an error then exits itself with EXIT_USAGE."""
    found = []
    for name in ("cli.py", "cli_review.py", "cli_runs.py", "cli_app.py"):
        tree = ast.parse((ROOT / "lfm_tui" / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("typer.Exit", "sys.exit", "SystemExit") \
                    and any(isinstance(a, ast.Constant) for a in node.args):
                found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "typer.Exit" \
                    and ast.unparse(node.args[0]) == "EXIT_USAGE" and name != "cli_app.py":
                found.append(f"{name}:{node.lineno} {ast.unparse(node)} (raise UserError instead)")
    assert found == []


def test_the_launcher_names_130_as_outcome_does() -> None:
    """lfm_tui/launch.py keeps its own EXIT_CANCELLED (it must not import before its Ctrl-C
    guard): the same number as engine/contract/outcome.py's."""
    from engine.contract.outcome import EXIT_CANCELLED
    from lfm_tui import launch

    assert launch.EXIT_CANCELLED == EXIT_CANCELLED == 130
