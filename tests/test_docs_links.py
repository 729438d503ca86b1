"""The README and the pages of docs/ hold together: every relative link resolves to a file of the
repository (and a `#section` to a heading of that page), the README opens with the commands CI
runs, what the README shows of a recipe or of alpha is what the code accepts, every `lfm` option
is documented, and no file of the repository cites a document that is not in it."""
from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)



def links(page: Path) -> list[str]:
    """The targets of the markdown links and images of a page, outside code blocks."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code: `[a](b)` there is not a link
    return [a or b for a, b in LINK.findall(text)]


def slug(heading: str) -> str:
    """The anchor a markdown heading gets (GitHub's rule: lower case, punctuation dropped, spaces
    to hyphens)."""
    text = re.sub(r"[`*_]{2,}|`", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def broken(page: Path) -> list[str]:
    """What is wrong with the relative links of `page`: a target that is no file of the repository,
    or a `#section` that is no heading of its page."""
    out = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...: not a file
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        rel = dest.relative_to(ROOT).as_posix() if dest.is_relative_to(ROOT) else str(dest)
        if not dest.is_relative_to(ROOT):
            out.append(f"{target}: outside the repository")
        elif not dest.exists():
            out.append(f"{target}: no such file {rel}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            out.append(f"{target}: no heading #{anchor} in {rel}")
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken(page) == []


def test_the_link_check_finds_a_missing_file_a_missing_heading_and_ignores_code(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/b.md").write_text("# B page\n\n## The `x` key, and more\n")
    page = tmp_path / "docs/a.md"
    page.write_text("[ok](b.md) [ok](b.md#the-x-key-and-more) [ok](#a) [web](https://x.org/y.md)\n"
                    "# A\n[gone](c.md) [bad](b.md#nope) ![img](fig.png) [up](../../x.md)\n"
                    "`[code](d.md)`\n```\n[block](e.md)\n```\n[later](events.md)\n")
    assert broken(page) == ["c.md: no such file docs/c.md", "b.md#nope: no heading #nope in docs/b.md",
                            "fig.png: no such file docs/fig.png", "../../x.md: outside the repository",
                            "events.md: no such file docs/events.md"]


def test_the_readme_opens_with_the_commands_ci_runs() -> None:
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith("#")]
    head = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:10]
    assert ci[-1] in head  # CI runs exactly the README's test command
    assert "pip install -e . && lfm run recipes/emoji.toml" in head


def test_the_readme_is_a_front_page_and_states_the_test_tiers() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 150 <= len(text.splitlines()) <= 200
    assert '`python -m pytest -m "not slow"`' in text and "`python -m pytest`" in text
    for page in sorted((ROOT / "docs").glob("*.md")):  # every page is reachable from the front page
        assert f"(docs/{page.name}" in text, f"README.md does not link docs/{page.name}"


def test_the_readmes_recipe_is_emoji_toml_and_validates() -> None:
    from engine.contract import recipe as recipes
    from engine.contract.validation import from_dict

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = tomllib.loads(re.search(r"```toml\n(.*?)```", text, re.DOTALL).group(1))
    emoji = recipes.read_toml(ROOT / "recipes/emoji.toml")

    def agree(part: dict, whole: dict, at: str = "") -> None:
        for key, value in part.items():
            assert key in whole, f"{at}{key} is not in recipes/emoji.toml"
            if isinstance(value, dict):
                agree(value, whole[key], f"{at}{key}.")
            else:
                assert whole[key] == value, f"{at}{key}: README shows {value!r}, the recipe has {whole[key]!r}"

    agree(shown, emoji)
    assert from_dict(shown).alpha.strategy == "heuristic"  # raises RecipeError, naming each problem


def test_the_readmes_alpha_table_is_the_schemas_strategies() -> None:
    import dataclasses

    from engine.contract.schema import AlphaConfig

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| strategy | alpha in epoch t |", 1)[1].split("\n\n", 1)[0]
    shown = re.findall(r"^\| `(\w+)`", table, re.MULTILINE)
    choices = next(f for f in dataclasses.fields(AlphaConfig) if f.name == "strategy").metadata["choices"]
    assert shown == list(choices)


def test_every_lfm_command_and_option_is_documented() -> None:
    import typer

    from lfm_tui.cli import app

    cli = (ROOT / "docs/cli.md").read_text(encoding="utf-8")
    docs = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    group = typer.main.get_command(app)
    assert len(group.commands) >= 9
    for name, command in group.commands.items():
        assert f"`lfm {name}" in cli, f"docs/cli.md does not list `lfm {name}`"
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert re.search(rf"{re.escape(opt)}\b", docs), f"lfm {name} {opt} is documented nowhere"


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [ROOT / p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file but .git's
        return [p for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.relative_to(ROOT).parts]


def test_no_file_cites_a_document_that_is_not_in_the_repository() -> None:
    # spelled in two parts, so that this file does not match itself
    outside = re.compile(r"\b(" + "SPEC" + r"|" + "BASELINES" + r")\.md\b")
    cited = []
    for path in tracked_files():
        if path.suffix in (".png", ".npz", ".xz", ".svg", ".pt") or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        cited += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in outside.finditer(text)]
    assert cited == []


def test_the_architecture_page_states_the_layers_of_the_import_contracts() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    page = " ".join((ROOT / "docs/architecture.md").read_text(encoding="utf-8").split())
    layered = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    assert len(layered) == 2
    for contract in layered:
        names = [re.sub(r"\b(engine|lfm_tui)\.", "", layer) for layer in contract["layers"]]
        chain = " → ".join(f"`{n}`" for n in names)
        assert chain in page, f"docs/architecture.md does not state the layers of: {contract['name']}"
