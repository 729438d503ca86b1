"""Values that validate but cannot run are refused before a run folder exists (exit status 2):
NaN and infinity for any number, integers past 64 bits, seeds past what derived seeds allow,
huge widths and thread counts, and names that are not a safe folder name. The resolved recipe
is always valid TOML, whatever text its strings hold; names and paths are shown as text."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.contract import recipe as recipes
from engine.contract.schema import Recipe
from conftest import RECIPES
from test_cli_run import ENV, LFM


def keys_of(cls: type, prefix: str = "") -> list[tuple[str, typing.Any]]:
    """(dotted key, type) of every scalar or list key of the schema (encoders under `pix`)."""
    out = []
    for f in dataclasses.fields(cls):
        tp = typing.get_type_hints(cls)[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            out += keys_of(tp, key + ".")
        elif typing.get_origin(tp) is dict:
            out += keys_of(typing.get_args(tp)[1], key + ".pix.")
        else:
            out.append((key, tp))
    return out


FLOAT_KEYS = [k for k, tp in keys_of(Recipe) if tp is float or tp == tuple[float, ...]]
INT_KEYS = [k for k, tp in keys_of(Recipe) if tp is int or tp == tuple[int, ...]]
LIST_KEYS = {k for k, tp in keys_of(Recipe) if typing.get_origin(tp) is tuple}


def problems(recipe: Path, *overrides: str) -> list[str]:
    with pytest.raises(recipes.RecipeError) as info:
        recipes.load(recipe, list(overrides))
    return info.value.problems


def test_the_schema_has_float_and_int_keys() -> None:
    assert {"optim.lr", "loss.temperature", "alpha.coefficients", "model.encoders.pix.dropout"} <= set(FLOAT_KEYS)
    assert {"train.seed", "model.feature_dim", "train.threads"} <= set(INT_KEYS)


@pytest.mark.parametrize("key", FLOAT_KEYS)
def test_every_number_refuses_nan_and_infinity(tiny_mfeat: Path, key: str) -> None:
    is_list = key in LIST_KEYS
    for bad in ("nan", "inf", "-inf", "1e400"):
        value = f"[{bad}, 0.5]" if is_list else bad
        found = problems(tiny_mfeat, f"{key}={value}")
        assert any(p.startswith(key) and "expected a finite number" in p for p in found), (key, bad, found)


@pytest.mark.parametrize("key", INT_KEYS)
def test_every_integer_refuses_values_past_64_bits(tiny_mfeat: Path, key: str) -> None:
    value = f"[{2 ** 63}]" if key in LIST_KEYS else str(2 ** 63)
    assert any(p.startswith(key) for p in problems(tiny_mfeat, f"{key}={value}"))


@pytest.mark.parametrize("override,expected", [
    ("train.seed=1000001", "train.seed: expected a value <= 1000000"),
    ("model.feature_dim=10000000", "model.feature_dim: expected a value <= 65536"),
    ("model.projection_dim=10000000", "model.projection_dim: expected a value <= 65536"),
    ("model.encoders.pix.hidden=[1000000000]", "model.encoders.pix.hidden[0]: expected a value <= 65536"),
    ("train.threads=100000", "train.threads: expected a value <= 1024"),
    ("name=" + "a" * 300, "name: expected at most 80 characters, found 300"),
    ("name=../../x", "name: expected letters, digits and . _ + -"),
    ("name=/tmp/x", "name: expected letters, digits and . _ + -"),
    ("name=a/b", "name: expected letters, digits and . _ + -"),
    ("name=a[/]b", "name: expected letters, digits and . _ + -"),
    ('name="a\\u0001b"', "name: expected letters, digits and . _ + -"),
    ("name=.hidden", "name: expected letters, digits and . _ + -"),
    ("data.root=\udcff", "data.root: expected UTF-8 text"),
])
def test_values_that_cannot_run_are_refused(tiny_mfeat: Path, override: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(tiny_mfeat, override))


def test_names_that_are_safe_and_file_stems_that_are_not(tmp_path: Path, tiny_mfeat: Path) -> None:
    assert recipes.load(tiny_mfeat, ["name=mfeat_v2.1-a+b"]).name == "mfeat_v2.1-a+b"
    odd = tmp_path / "my recipe (v2) [b].toml"
    odd.write_text(tiny_mfeat.read_text())
    assert recipes.load(odd).name == "my_recipe__v2___b_"  # a stem is made safe, not refused


@pytest.mark.parametrize("override", ["name=../../escaped", "optim.lr=nan", "train.seed=9223372036854775808",
                                      "model.feature_dim=100000000", "train.threads=1000000", "name=" + "n" * 300])
def test_the_engine_and_lfm_refuse_before_a_folder_exists(tiny_mfeat: Path, tmp_path: Path, override: str) -> None:
    runs = tmp_path / "deep" / "runs"
    for cmd in ([sys.executable, "-m", "engine"], LFM + ["run"]):
        res = subprocess.run([*cmd, str(tiny_mfeat), override, "--runs-dir", str(runs)], cwd=tmp_path,
                             capture_output=True, text=True, env=ENV, timeout=120)
        assert res.returncode == 2, res.stdout + res.stderr
        assert "Traceback" not in res.stdout + res.stderr
        assert sorted(p.name for p in tmp_path.rglob("*")) == ["tiny_mfeat.toml"]  # nothing, anywhere


@pytest.mark.slow
def test_a_runs_folder_that_looks_like_markup_is_shown_as_text(tiny_mfeat: Path, tmp_path: Path) -> None:
    runs = tmp_path / "r[/]x" / "[bold]runs"
    res = subprocess.run(LFM + ["run", str(tiny_mfeat), "train.epochs=1", "--runs-dir", str(runs)], cwd=tmp_path,
                         capture_output=True, text=True, env=ENV, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "MarkupError" not in res.stdout + res.stderr and "[bold]runs" in res.stdout


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40), key=st.text(min_size=1, max_size=12))
def test_the_toml_writer_escapes_every_character(text: str, key: str) -> None:
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    key = key.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    doc = f"v = {recipes.toml_string(text)}\n[t.{recipes.toml_key(key)}]\nx = 1\n"
    assert tomllib.loads(doc) == {"v": text, "t": {key: {"x": 1}}}


@settings(max_examples=60, deadline=None)
@given(root=st.text(max_size=30).filter(lambda s: not any("\ud800" <= c <= "\udfff" for c in s)))
def test_a_resolved_recipe_is_valid_toml_whatever_its_strings_hold(root: str) -> None:
    r = recipes.load(RECIPES / "mfeat.toml")
    r = dataclasses.replace(r, data=dataclasses.replace(r.data, root=root, cache=root + "\x00\x1b[31m"))
    again = recipes.from_dict(tomllib.loads(recipes.dumps(r)))
    assert again == r
