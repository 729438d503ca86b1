"""docs/methods.md is generated from the method registry (engine/contract/method_docs.py): the page in the
repository is what the registry renders now, and every test a method's Reference names exists."""
from __future__ import annotations

import re
from pathlib import Path

from engine.contract import method_docs
from engine.contract.method_info import MethodInfo, Reference

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "PYTHONPATH=. python -m engine.contract.method_docs"


def _section(page: str, name: str) -> str:
    return page.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]


def test_methods_page_is_generated_from_the_registry() -> None:
    page = (ROOT / "docs/methods.md").read_text(encoding="utf-8")
    expected = method_docs.render(method_docs.builtin_methods())
    assert page == expected, f"docs/methods.md is stale: regenerate it with `{REGENERATE}`"


def test_every_builtin_method_names_tests_that_exist() -> None:
    methods = method_docs.builtin_methods()
    assert len(methods) == 21
    named = method_docs.named_tests(methods)
    assert {m.name for m in methods} == {name for name, _, _ in named}  # each method is pinned by some test
    for _, file, test in named:  # the same check as missing_tests, spelled out
        src = (ROOT / file).read_text(encoding="utf-8")
        assert re.search(rf"^def {test}\(", src, re.MULTILINE), f"{file}::{test} does not exist"
    assert method_docs.missing_tests(methods, ROOT) == []


def test_missing_tests_names_each_reference_that_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests/test_a.py").write_text("def test_here() -> None:\n    pass\n\n# def test_commented\n")
    info = MethodInfo("probe", "a probe", "pkg.mod:Probe", reference=Reference(verified=(
        "exists: tests/test_a.py::test_here",
        "renamed: tests/test_a.py::test_commented",
        "a prefix is not the test: tests/test_a.py::test_her",
        "file gone: tests/test_b.py::test_here")))
    assert method_docs.missing_tests([info], tmp_path) == [
        "probe: tests/test_a.py::test_commented: no such test in tests/test_a.py",
        "probe: tests/test_a.py::test_her: no such test in tests/test_a.py",
        "probe: tests/test_b.py::test_here: no such file"]


def test_check_fails_on_a_stale_page_and_names_the_command(tmp_path: Path, capsys) -> None:
    page = tmp_path / "methods.md"
    assert method_docs.main(["--check", "--path", str(page)]) == 1  # missing
    assert "is missing; regenerate it: " + REGENERATE in capsys.readouterr().err
    assert method_docs.main(["--path", str(page)]) == 0  # written
    assert method_docs.main(["--check", "--path", str(page)]) == 0
    page.write_text(page.read_text(encoding="utf-8").replace("| `0.1` |", "| `0.2` |", 1), encoding="utf-8")
    assert method_docs.main(["--check", "--path", str(page)]) == 1
    assert f"{page} is stale; regenerate it: {REGENERATE}" in capsys.readouterr().err


def test_a_section_shows_keys_reference_and_facts() -> None:
    page = method_docs.render(method_docs.builtin_methods())
    ogm = _section(page, "ogm_ge")
    assert "| `alpha` | float | `0.1` | > 0 | modulation strength" in ogm
    assert "| `noise` | bool | `true` |" in ogm
    assert "- **Reference code**: GeWu-Lab/OGM-GE_CVPR2022 `main.py`" in ogm
    assert "`tests/test_methods.py::test_ogm_ge_coefficient_formula`" in ogm
    assert "- **Fusion**: the recipe's `model.fusion`" in ogm
    mslr = _section(page, "mslr")
    assert "| `rates` | tuple[float, ...] | `[]` | each > 0 |" in mslr
    assert '| `strategy` | str | `"dynamic"` | one of `"keep"`, `"dynamic"` |' in mslr
    assert "- **Fusion**: `sum`" in mslr
    greedy = _section(page, "greedy")
    assert "re-balance when \\|BDR_0 - BDR_1\\| exceeds this" in greedy  # a pipe kept inside its cell
    assert "- **Modalities**: exactly 2" in greedy and "Also takes `[method.mmtm]`" in greedy
    unimodal = _section(page, "unimodal")
    assert "- **Table label**: `{method.modality} alone`" in unimodal
    assert "Keys: no `[method.unimodal]` table." in unimodal and "Also takes `method.modality`." in unimodal
    assert "- **Alpha**: weights its matching loss" in _section(page, "lfm")
    assert all(f"\n## {m.name}\n" in page for m in method_docs.builtin_methods())


def test_a_plugin_method_renders_like_a_builtin_one(capsys) -> None:
    from dataclasses import dataclass

    from engine.contract.schema_fields import spec

    @dataclass(frozen=True)
    class ProbeConfig:
        rate: float = spec(0.5, lo=0.0, hi=1.0, doc="a | piped doc", source="ours")
        mode: str = spec("a", choices=("a", "b"))

    info = MethodInfo("probe", "a probe", "pkg.mod:Probe", config=ProbeConfig, keys=("modality",), modalities=3,
                      reference=Reference(paper="P", code="none", verified=("x: tests/test_a.py::test_x",)))
    page = method_docs.render([info])
    section = _section(page, "probe")
    assert "| `rate` | float | `0.5` | >= 0, <= 1 | a \\| piped doc | ours |" in section
    assert '| `mode` | str | `"a"` | one of `"a"`, `"b"` |  |  |' in section
    assert "- **Modalities**: exactly 3" in section and "- **Fusion**: the recipe's `model.fusion`" in section
    assert "- x: `tests/test_a.py::test_x`" in section and "- none recorded" in section
    assert "Also takes `method.modality`." in section
    assert method_docs.main(["--plugins"]) == 0  # the installed methods, built-in ones first
    assert capsys.readouterr().out == method_docs.render(method_docs.METHODS.values())


# docs/recipes.md is generated from the recipe schema (engine/contract/recipe_docs.py).

def test_recipes_page_is_generated_from_the_schema() -> None:
    from engine.contract import recipe_docs

    page = (ROOT / "docs/recipes.md").read_text(encoding="utf-8")
    assert page == recipe_docs.render(), (
        "docs/recipes.md is stale: regenerate it with `PYTHONPATH=. python -m engine.contract.recipe_docs`")


def test_recipes_page_lists_every_key_with_its_default_bounds_and_meaning() -> None:
    import dataclasses

    from engine.contract import recipe_docs
    from engine.contract.schema import EncoderConfig, Recipe

    page = recipe_docs.render()
    sections = {f.name: type(recipe_docs._default(f)) for f in dataclasses.fields(Recipe) if f.name != "name"}
    sections["model.encoders.&lt;modality&gt;"] = EncoderConfig
    for section, cls in sections.items():
        body = page.split(f"\n## [{section}]\n", 1)[1].split("\n## ", 1)[0]
        for f in dataclasses.fields(cls):
            if dataclasses.is_dataclass(recipe_docs._default(f)):  # a method's table: a link to methods.md
                assert f"[`[method.{f.name}]`](methods.md#{f.name})" in body
                continue
            row = next((line for line in body.splitlines() if line.startswith(f"| `{f.name}` |")), None)
            assert row is not None, f"{section}.{f.name} is not on the page"
            meaning = row.split(" | ")[4]
            assert meaning.strip(), f"{section}.{f.name} has no documentation in the schema (spec(doc=...))"
    assert '| `fusion` | str | `"concat"` | one of `"concat"`, `"sum"`, `"weight"`, `"film"`, `"gated"` |' in page
    assert "| `temperature` | float | `0.07` | > 0 | tau of the matching loss L_MM | CLIP's value" in page
    assert "| `seed` | int | `0` | >= 0, <= 1000000 |" in page
    assert '| `name` | str | `"lfm"` | one of `"unimodal"`,' in page  # the built-in methods, not the installed plug-ins
    assert '| `name` | str | `"emoji"` | one of `"emoji"`, `"mfeat"`, `"fashion"`, `"spoken_fashion"`, `"cremad"`,' in page
    assert "| `betas` | tuple[float, ...] | `[0.5, 0.9]` | each >= 0, <= 1 |" in page


def test_recipes_check_fails_on_a_stale_page_and_names_the_command(tmp_path: Path, capsys) -> None:
    from engine.contract import recipe_docs

    page = tmp_path / "recipes.md"
    assert recipe_docs.main(["--check", "--path", str(page)]) == 1
    assert "is missing; regenerate it: PYTHONPATH=. python -m engine.contract.recipe_docs" in capsys.readouterr().err
    assert recipe_docs.main(["--path", str(page)]) == 0
    assert recipe_docs.main(["--check", "--path", str(page)]) == 0
    page.write_text(page.read_text(encoding="utf-8").replace("`0.07`", "`0.1`", 1), encoding="utf-8")
    assert recipe_docs.main(["--check", "--path", str(page)]) == 1
    assert f"{page} is stale; regenerate it" in capsys.readouterr().err


def test_events_page_is_generated_from_the_event_classes(tmp_path: Path) -> None:
    """docs/events.md is what engine/contract/event_docs.py renders from the event dataclasses, and
    `--check` says so by its exit status (1 for a stale page, naming it)."""
    from engine.contract import event_docs
    from engine.contract.events import EVENT_TYPES

    page = (ROOT / "docs/events.md").read_text(encoding="utf-8")
    assert page == event_docs.render(), "docs/events.md is stale: regenerate it with " \
                                        "`PYTHONPATH=. python -m engine.contract.event_docs`"
    for type_, cls in EVENT_TYPES.items():
        body = _section(page, type_)
        for spec in event_docs.specs(cls):
            need = "required" if spec.required else "optional"
            assert f"| `{spec.name}` | " in body and f" | {need} | " in body, (type_, spec.name)
    for rule in ("| `v` | int |", "| `seq` | int |", "| `time` | float |", "is skipped", "is refused",
                 "is text, not an event", "run_started's `run_id` is `run_name`"):
        assert rule in page, rule
    stale = tmp_path / "events.md"
    stale.write_text(page.replace("the learning rate at this step", "the rate"), encoding="utf-8")
    assert event_docs.main(["--check", "--path", str(stale)]) == 1
    assert event_docs.main(["--check", "--path", str(ROOT / "docs/events.md")]) == 0
