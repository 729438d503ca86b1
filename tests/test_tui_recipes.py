"""The recipe screen: recipes whose data is read from disk and is not there are marked and not
launched; the summary shows the recipe with the overrides typed; the data-folder check itself."""
from __future__ import annotations

import asyncio
import shlex
import shutil
from pathlib import Path

import pytest
from textual.widgets import OptionList, Static

from engine.contract.data_folders import ANNOTATIONS, LAYOUTS, missing_data, prepare_commands
from engine.contract.schema import DISK_DATASETS
from lfm_tui.app import make_app
from lfm_tui.screens.recipes import RecipesScreen
from tests.tui_helpers import ROOT, fake, reads_done, screen_text, until


def recipes_with_cremad(tmp_path: Path, root: Path) -> Path:
    """The fixture recipes (emoji, mfeat) and the shipped cremad recipe reading `root`."""
    folder = tmp_path / "recipes"
    shutil.copytree(ROOT / "tests" / "fixtures" / "recipes", folder)
    text = (ROOT / "recipes" / "cremad.toml").read_text()
    assert 'root = "data/cremad"' in text
    (folder / "cremad.toml").write_text(text.replace('root = "data/cremad"', f'root = "{root}"'))
    return folder


def cremad_folder(root: Path) -> Path:
    (root / "annotations").mkdir(parents=True)
    for split in ("train", "test"):
        (root / "annotations" / f"{split}.csv").write_text("1041_TIE_NEU_XX,NEU\n")
    return root


def test_recipe_without_its_data_is_marked_and_enter_launches_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no such folder"
    seen: list = []
    app = make_app(recipes_with_cremad(tmp_path, missing), tmp_path / "runs", command=fake("replay", seen=seen),
                   cursor_blink=False)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            screen = app.screen
            assert isinstance(screen, RecipesScreen)
            listed = screen.query_one(OptionList)
            labels = [str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)]
            assert labels == ["⚠ cremad", "emoji", "mfeat"]
            assert listed.highlighted == 1  # the list opens on emoji, the first recipe that can run
            await pilot.press("up")  # cremad
            check = str(screen.query_one("#override-check", Static).render())
            assert f"data.root: {missing} is not a folder" in check
            assert f"lfm prepare cremad --root {shlex.quote(str(missing))}" in check
            await until(pilot, lambda: "needs data on disk" in screen_text(app), what="the summary drawn")
            shown = screen_text(app)
            assert "needs data on disk" in shown and "must hold" in shown and "annotations/train.csv" in shown
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert app.sessions == [] and seen == [] and isinstance(app.screen, RecipesScreen)
            # said under the overrides (no notice over them), and checked again as they are typed
            assert list(app._notifications) == []
            check = str(screen.query_one("#override-check", Static).render())
            assert check.startswith("✗ not launched: cremad needs its data on disk")
            assert f"lfm prepare cremad --root {shlex.quote(str(missing))}" in check
            # the folder prepared meanwhile: the next check sees it and the mark goes
            cremad_folder(missing)
            await pilot.press("o", "x", "backspace")
            assert str(listed.get_option_at_index(0).prompt) == "cremad"
            assert "✓ valid: Enter launches cremad.toml" in str(screen.query_one("#override-check", Static).render())
            shutil.rmtree(missing)
            # pointing data.root at a folder in the cremad layout lets it launch
            present = cremad_folder(tmp_path / "cremad")
            await pilot.press(*f"data.root={present}")
            check = str(screen.query_one("#override-check", Static).render())
            assert "✓ valid with 1 override: Enter launches cremad.toml" in check
            await pilot.press("enter")
            await until(pilot, lambda: app.sessions and not app.sessions[0].live, what="run end")
    asyncio.run(scenario())
    assert seen == [[str(tmp_path / "recipes" / "cremad.toml"), f"data.root={tmp_path / 'cremad'}",
                     "--runs-dir", str(tmp_path / "runs")]]


def test_summary_shows_the_values_after_the_overrides(tmp_path: Path) -> None:
    app = make_app(ROOT / "tests" / "fixtures" / "recipes", tmp_path / "runs", command=fake("replay"),
                   cursor_blink=False)

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            await pilot.press("down")  # mfeat: 30 epochs, heuristic alpha
            await until(pilot, lambda: "epochs      30" in screen_text(app), what="mfeat's summary")
            before = screen_text(app)
            assert "epochs      30" in before and "alpha       heuristic" in before
            await pilot.press("o", *"train.epochs=7 alpha.strategy=constant alpha.value=0.25 data.modalities=[fou,kar,zer]")
            await until(pilot, lambda: "epochs      7" in screen_text(app), what="the summary after the overrides")
            after = screen_text(app)
            assert "epochs      7" in after and "epochs      30" not in after
            assert "alpha       constant (p = 0.25)" in after
            assert "modalities  fou + kar + zer" in after
            assert "overrides   train.epochs=7 alpha.strategy=constant alpha.value=0.25" in after
            # an invalid override: the summary falls back to the recipe as written
            await pilot.press("backspace", "backspace", "backspace", "backspace", *"bad]")
            await pilot.pause()
            await until(pilot, lambda: "overrides   train" not in screen_text(app), what="the summary as written")
            bad = screen_text(app)
            assert "data.modalities" in str(app.screen.query_one("#override-check", Static).render())
            assert "epochs      30" in bad and "overrides   train" not in bad
    asyncio.run(scenario())


def test_every_disk_dataset_has_a_layout_and_its_annotation_files() -> None:
    assert set(LAYOUTS) == set(ANNOTATIONS) == set(DISK_DATASETS)


@pytest.mark.parametrize("name,files", [
    ("cremad", ["annotations/train.csv", "annotations/test.csv"]),
    ("cremad", ["train.csv", "test.csv"]),
    ("kinetics_sounds", ["my_train.txt", "my_test.txt"]),
    ("kinetics_sounds", ["annotations/train.csv", "annotations/test.csv"]),
    ("vggsound", ["vggsound.csv"]),
    ("sarcasm", ["annotations/train.tsv"]),
    ("sarcasm", ["text_data/train.txt"]),
    ("twitter2015", ["train.tsv"]),
    ("twitter2015", ["annotations/train.tsv"]),
    ("nvgesture", ["nvgesture_train_correct_cvpr2016_v2.lst", "nvgesture_test_correct_cvpr2016.lst"]),
])
def test_a_folder_in_a_known_layout_holds_the_data(tmp_path: Path, name: str, files: list[str]) -> None:
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("")
    assert missing_data(name, str(tmp_path)) is None
    (tmp_path / files[-1]).unlink()  # one annotation file short
    assert missing_data(name, str(tmp_path)) == f"data.root: {tmp_path} holds no {name} annotation files"


def test_missing_data_names_the_folder(tmp_path: Path) -> None:
    assert missing_data("emoji", "") is None and missing_data("mfeat", "/nowhere") is None
    assert missing_data("cremad", "") == "data.root: empty"
    assert missing_data("cremad", str(tmp_path / "x")) == f"data.root: {tmp_path / 'x'} is not a folder"
    (tmp_path / "file").write_text("")
    assert missing_data("vggsound", str(tmp_path / "file")) == f"data.root: {tmp_path / 'file'} is not a folder"
    assert prepare_commands("sarcasm", "my data/sarcasm") == [
        "lfm prepare sarcasm --root 'my data/sarcasm' --check", "lfm prepare sarcasm --root 'my data/sarcasm'"]


def test_keys_typed_before_the_first_screen_is_ready_are_applied(tmp_path: Path) -> None:
    from textual import events
    from textual.widgets import Input

    app = make_app(ROOT / "tests" / "fixtures" / "recipes", tmp_path / "runs", command=fake("replay"),
                   cursor_blink=False)
    typed = ["down", "o", *"train.epochs=3"]  # mfeat, then an override; `3` is also a screen key
    for key in typed:  # in the app's queue before it runs: typed while it starts
        app.post_message(events.Key(key, key if len(key) == 1 else None))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await reads_done(pilot)  # the first screen's files read
            field = app.screen.query_one("#overrides", Input)
            await until(pilot, lambda: field.value == "train.epochs=3", what="the typed override")
            assert isinstance(app.screen, RecipesScreen) and app.focused is field
            assert app.screen.selected.name == "mfeat"
            await until(pilot, lambda: "epochs      3" in screen_text(app), what="the summary after the keys")
    asyncio.run(scenario())
