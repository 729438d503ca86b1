"""Recipe validation: every problem at once, with its key path, expected and found."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.contract import recipe as recipes
from lfm_tui.cli import app

from conftest import RECIPES


def problems(tmp_path: Path, body: str, overrides=()) -> list[str]:
    p = tmp_path / "r.toml"
    p.write_text(body)
    with pytest.raises(recipes.RecipeError) as info:
        recipes.load(p, overrides)
    return info.value.problems


BASE = (RECIPES / "mfeat.toml").read_text()


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_recipe_validates_and_opens_with_a_comment(path: Path) -> None:
    r = recipes.load(path)
    assert r.name == path.stem
    header = recipes.header_comment(path)
    assert "lfm run" in header and len(header.splitlines()) >= 2


def test_unknown_key_is_rejected_with_the_nearest_known_key(tmp_path: Path) -> None:
    out = problems(tmp_path, BASE.replace("[loss]", "[loss]\ntemprature = 0.1"))
    assert len(out) == 1
    assert out[0].startswith("loss.temprature: unknown key (did you mean 'loss.temperature'?)")


def test_wrong_type_names_key_expected_and_found(tmp_path: Path) -> None:
    out = problems(tmp_path, BASE.replace("epochs = 30", 'epochs = "ten"'))
    assert out == ["train.epochs: expected an integer, found 'ten'"]


def test_out_of_range_value(tmp_path: Path) -> None:
    out = problems(tmp_path, BASE.replace("temperature = 0.07", "temperature = 0"))
    assert out == ["loss.temperature: expected a value > 0.0, found 0.0"]


def test_bad_choice_suggests_the_nearest(tmp_path: Path) -> None:
    out = problems(tmp_path, BASE, ["alpha.strategy=heuristc"])
    assert len(out) == 1 and "alpha.strategy: expected one of" in out[0] and "'heuristic'?" in out[0]


def test_bad_override_syntax(tmp_path: Path) -> None:
    out = problems(tmp_path, BASE, ["train.epochs"])
    assert out == ["override 'train.epochs': expected key=value"]


def test_several_problems_reported_at_once(tmp_path: Path) -> None:
    body = BASE.replace("epochs = 30", "epochs = -1").replace("[loss]", "[loss]\nfoo = 1")
    out = problems(tmp_path, body, ["optim.lr=fast", "data.modalities=[pix,nope]"])
    keys = sorted(p.split(":")[0] for p in out)
    assert keys == ["loss.foo", "optim.lr", "train.epochs"], out
    # cross-field checks run once the types are right
    out2 = problems(tmp_path, BASE, ["data.modalities=[pix,nope]"])
    assert any(p.startswith("data.modalities[1]: 'mfeat' has modalities") for p in out2)
    out3 = problems(tmp_path, BASE.replace('modalities = ["pix", "mor"]', 'modalities = ["pix", "mor", "fou"]')
                    .replace("[model.encoders.fou]", "[model.encoders.unused]"))
    assert out3 == ["model.encoders.unused: 'mfeat' has modalities fac, fou, kar, mor, pix, zer; no 'unused' for "
                    "this encoder to read",
                    "model.encoders.fou: missing; every modality in data.modalities needs an encoder table"]
    # encoders of modalities the dataset has but the run leaves out are fine: BASE holds all six of
    # mfeat's and runs two
    (tmp_path / "r.toml").write_text(BASE)
    assert list(recipes.load(tmp_path / "r.toml").model.encoders) == ["pix", "mor", "fac", "fou", "kar", "zer"]


def test_overrides_change_the_recipe(tmp_path: Path) -> None:
    r = recipes.load(RECIPES / "emoji.toml",
                     ["alpha.strategy=constant", "alpha.value=0.5", "train.epochs=3"])
    assert (r.alpha.strategy, r.alpha.value, r.train.epochs) == ("constant", 0.5, 3)


def test_resolved_recipe_round_trips_through_toml(tmp_path: Path) -> None:
    r = recipes.load(RECIPES / "emoji.toml", ["train.epochs=3"])
    p = tmp_path / "resolved.toml"
    p.write_text(recipes.dumps(r))
    assert recipes.load(p) == r


def test_lfm_validate_lists_problems_and_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(BASE.replace("epochs = 30", "epochs = 0"))
    res = CliRunner().invoke(app, ["validate", str(p), "optim.nme=sgd"])
    assert res.exit_code == 2
    assert "2 problems" in res.output
    assert "train.epochs: expected a value >= 1, found 0" in res.output
    assert "optim.nme: unknown key (did you mean 'optim.name'?)" in res.output
    ok = CliRunner().invoke(app, ["validate", str(RECIPES / "mfeat.toml")])
    assert ok.exit_code == 0 and "valid" in ok.output


def test_missing_and_invalid_toml_files(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.toml")])
    assert res.exit_code == 2 and "file not found" in res.output
    bad = tmp_path / "broken.toml"
    bad.write_text("[data\nname=")
    res = CliRunner().invoke(app, ["validate", str(bad)])
    assert res.exit_code == 2 and "not valid TOML" in res.output
