"""The built-in `fashion` imbalance benchmark: the asset, the two views, the splits, a short
run, and the late-fusion ensemble of saved test predictions."""
from __future__ import annotations

import gzip
import importlib.util
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import RECIPES, ROOT, events_of, only_run_dir, run_engine, train_in_process
from engine.contract import method_registry as registry, recipe as recipes
from engine.data import fashion, load_dataset
from engine.ensemble import combine, ensemble
from engine.contract.errors import UserError

spec = importlib.util.spec_from_file_location("build_fashion", ROOT / "assets" / "build_fashion.py")
build_fashion = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_fashion)


def write_idx(path: Path, magic: int, array: np.ndarray) -> None:
    header = struct.pack(">" + "I" * (1 + array.ndim), magic, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def synthetic_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class c: a bright 8x8 square at a class-specific place on a dim noisy background."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    x = rng.integers(0, 60, (n, 28, 28))
    for i, c in enumerate(y):
        r, col = 2 + 8 * (c // 4), 2 + 6 * (c % 4)
        x[i, r:r + 8, col:col + 8] = 255
    return x, y


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fashion-idx")
    for split, n, seed in (("train", 400, 0), ("t10k", 100, 1)):
        x, y = synthetic_images(n, seed)
        write_idx(d / f"{split}-images-idx3-ubyte.gz", 0x803, x)
        write_idx(d / f"{split}-labels-idx1-ubyte.gz", 0x801, y)
    return d


@pytest.fixture(scope="module")
def small_root(idx_folder: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fashion-asset")
    build_fashion.build(idx_folder, root / "fashion.npz.xz")
    return root


def recipe_for(root: Path | None = None, *overrides: str) -> recipes.Recipe:
    extra = [f"data.root={root}"] if root else []
    return recipes.load(RECIPES / "fashion.toml", [*extra, *overrides])


# ------------------------------------------------------------------ the asset and its build
def test_build_quantises_to_eight_levels_and_keeps_labels_and_test_flags(idx_folder, small_root) -> None:
    z = fashion.read_asset(small_root / "fashion.npz.xz")
    x, y = synthetic_images(400, 0)
    assert z["image"].shape == (500, 28, 28) and z["image"].dtype == np.uint8
    assert z["image"].max() == 7 and set(np.unique(z["image"])) <= set(range(8))
    assert np.array_equal(z["image"][:400], np.round(x / 255 * 7).astype(np.uint8))
    assert np.array_equal(z["label"][:400], y)
    assert z["is_test"].sum() == 100 and not z["is_test"][:400].any()
    assert list(z["classes"])[:2] == ["T-shirt/top", "Trouser"] and len(z["classes"]) == 10


def test_build_names_a_missing_or_foreign_file(idx_folder, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="t10k-labels-idx1-ubyte.gz is missing"):
        (tmp_path / "part").mkdir()
        for f in idx_folder.iterdir():
            if f.name != "t10k-labels-idx1-ubyte.gz":
                (tmp_path / "part" / f.name).write_bytes(f.read_bytes())
        build_fashion.build(tmp_path / "part", tmp_path / "out.xz")
    (tmp_path / "part" / "t10k-labels-idx1-ubyte.gz").write_bytes(
        (idx_folder / "t10k-images-idx3-ubyte.gz").read_bytes())
    with pytest.raises(SystemExit, match="magic 0x803, expected 0x801"):
        build_fashion.build(tmp_path / "part", tmp_path / "out.xz")


def test_missing_or_corrupt_asset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="fashion.npz.xz is missing"):
        load_dataset(recipe_for(tmp_path))
    (tmp_path / "fashion.npz.xz").write_bytes(b"not xz")
    with pytest.raises(UserError, match="not a readable fashion asset.*build_fashion.py"):
        load_dataset(recipe_for(tmp_path))


# ------------------------------------------------------------------ the shipped dataset
@pytest.fixture(scope="module")
def shipped():
    return load_dataset(recipe_for())


def test_shipped_dataset_shapes_classes_and_split_sizes(shipped) -> None:
    d = shipped
    assert d.modalities == ("thumb", "noisy") and d.num_classes == 10
    assert d.class_names[0] == "T-shirt/top" and d.class_names[9] == "Ankle boot"
    assert (len(d.train), len(d.val), len(d.test)) == (54_000, 6_000, 10_000)
    for split, per_class in ((d.train, 5_400), (d.val, 600), (d.test, 1_000)):
        assert np.bincount(split.labels.numpy(), minlength=10).tolist() == [per_class] * 10
        assert tuple(split.inputs["thumb"].shape[1:]) == (49,)
        assert tuple(split.inputs["noisy"].shape[1:]) == (784,)
    # the test split is Fashion-MNIST's own test set: the last 10,000 images of the asset
    assert d.test.indices.tolist() == list(range(60_000, 70_000))
    assert not set(d.train.indices) & set(d.val.indices)
    assert d.input_spec == {"thumb": {"type": "vector", "dim": 49}, "noisy": {"type": "vector", "dim": 784}}


def test_partners_are_other_items_of_the_same_class_in_the_same_split() -> None:
    z = fashion.read_asset(fashion.asset_path(recipe_for(), fashion.FILE))
    labels = z["label"]
    parts = fashion.split_parts(labels, z["is_test"], 0.1, 0)
    partner = fashion.partners(labels, parts, 0)
    for pos in parts.values():
        p = partner[pos]
        assert np.array_equal(labels[p], labels[pos])
        assert (p != pos).all()
        assert sorted(p.tolist()) == sorted(pos.tolist())  # every image is someone's partner once


def test_construction_is_deterministic_and_fixed_by_split_seed(small_root) -> None:
    z = fashion.read_asset(small_root / "fashion.npz.xz")
    labels = z["label"]

    def views(seed: int, **kw):
        parts = fashion.split_parts(labels, z["is_test"], 0.1, seed)
        args = {"thumbnail": 4, "noise": 1.0, "pairing": "class", **kw}
        return fashion.build_views(z["image"], 8, labels, parts, seed, **args)

    a, b, c = views(0), views(0), views(1)
    assert all(np.array_equal(a[m], b[m]) for m in a)
    assert not np.array_equal(a["noisy"], c["noisy"])
    clean = views(0, noise=0.0)
    x = z["image"].astype(np.float32) / 7
    # noise: std 1 around the clean partner; the thumbnail is the 4x4 block mean of the item
    assert np.std(a["noisy"] - clean["noisy"]) == pytest.approx(1.0, abs=0.01)
    assert a["thumb"].shape == (500, 49)
    assert np.allclose(a["thumb"][:, 0], x[:, :4, :4].mean((1, 2)))
    assert np.allclose(a["thumb"].mean(1), x.mean((1, 2)), atol=1e-6)
    own = views(0, noise=0.0, pairing="item")
    assert np.array_equal(own["noisy"], x)
    assert not np.array_equal(clean["noisy"], x)  # pairing="class" shows partners, not the item
    assert views(0, thumbnail=7)["thumb"].shape == (500, 16)


def test_partner_view_shows_an_image_of_the_same_class(small_root) -> None:
    z = fashion.read_asset(small_root / "fashion.npz.xz")
    labels = z["label"]
    parts = fashion.split_parts(labels, z["is_test"], 0.1, 0)
    clean = fashion.build_views(z["image"], 8, labels, parts, 0, 4, 0.0, "class")["noisy"]
    x = z["image"].astype(np.float32) / 7
    partner = fashion.partners(labels, parts, 0)
    assert np.array_equal(clean, x[partner])
    assert (labels[partner] == labels).all() and (partner != np.arange(len(labels))).all()


def test_bad_construction_settings_name_the_key(small_root) -> None:
    with pytest.raises(UserError, match="data.thumbnail: expected a divisor of 28"):
        load_dataset(recipe_for(small_root, "data.thumbnail=5"))
    with pytest.raises(UserError, match="model.encoders.thumb.kind: the fashion thumb view needs 'mlp'"):
        load_dataset(recipe_for(small_root, "model.encoders.thumb.kind=cnn"))
    with pytest.raises(recipes.RecipeError, match="data.pairing"):
        recipe_for(small_root, "data.pairing=other")


def test_noisy_view_as_an_image_for_a_cnn(small_root) -> None:
    d = load_dataset(recipe_for(small_root, "model.encoders.noisy.kind=cnn"))
    assert d.input_spec["noisy"] == {"type": "image", "shape": (1, 28, 28)}
    assert tuple(d.train.inputs["noisy"].shape[1:]) == (1, 28, 28)


# ------------------------------------------------------------------ runs and the ensemble
def lfm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from lfm_tui.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def _train(run_dir: Path, root: Path, recipe: str, *overrides: str) -> Path:
    """A finished run of recipes/<recipe>.toml on the asset at `root`, trained in this process
    through the engine's own lifecycle (the run folder is what `lfm run` leaves)."""
    r = recipes.load(RECIPES / f"{recipe}.toml", [f"data.root={root}", "data.batch_size=32", "train.epochs=3",
                                                  "train.threads=1", "optim.lr=0.05", *overrides])
    code, summary = train_in_process(run_dir, r)
    assert code == 0 and summary["status"] == "ok", summary
    return run_dir


@pytest.fixture(scope="module")
def seed_groups(small_root: Path, tmp_path_factory) -> dict[str, Path]:
    """One-epoch runs of each single view: fashion_thumb with seeds 0, 1, 2 and fashion_noisy
    with seeds 0, 1, each in GROUP/<seed>/ (as `lfm run --seeds` leaves a group)."""
    base = tmp_path_factory.mktemp("fashion-groups")
    groups = {}
    for recipe, seeds in (("fashion_thumb", (0, 1, 2)), ("fashion_noisy", (0, 1))):
        for seed in seeds:
            _train(base / recipe / str(seed), small_root, recipe, f"train.seed={seed}", "train.epochs=1")
        groups[recipe] = base / recipe
    return groups


@pytest.mark.slow
def test_short_run_learns_and_saves_test_predictions(small_root, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    res = run_engine([str(RECIPES / "fashion.toml"), f"data.root={small_root}", "data.batch_size=32",
                      "train.epochs=3", "train.threads=1", "optim.lr=0.05", "--runs-dir", str(runs)], tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert [e for e in events_of(res.stdout) if e["type"] == "run_finished"][0]["status"] == "ok"
    run = only_run_dir(runs)
    s = json.loads((run / "summary.json").read_text())
    assert s["dataset"] == "fashion" and s["modalities"] == ["thumb", "noisy"]
    assert s["test"]["acc"] > 50  # the thumbnails of the synthetic classes are easy; chance is 10
    with np.load(run / "predictions.npz") as p:
        assert p["index"].tolist() == list(range(400, 500))
        assert p["fused"].shape == (100, 10) and np.allclose(p["fused"].sum(1), 1, atol=1e-5)
        assert list(p["modalities"]) == ["thumb", "noisy"] and p["part_noisy"].shape == (100, 10)
        acc = 100 * (p["fused"].argmax(1) == p["label"]).mean()
    assert acc == pytest.approx(s["test"]["acc"], abs=1e-6)


@pytest.mark.slow
def test_ensemble_of_single_modality_runs(seed_groups) -> None:
    thumb, noisy = seed_groups["fashion_thumb"] / "0", seed_groups["fashion_noisy"] / "0"
    res = lfm("ensemble", str(thumb), str(noisy), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    with np.load(thumb / "predictions.npz") as a, np.load(noisy / "predictions.npz") as b:
        want = 100 * (((a["fused"] + b["fused"]) / 2).argmax(1) == a["label"]).mean()
        assert list(a["modalities"]) == ["thumb"] and list(b["modalities"]) == ["noisy"]
    assert out["ensemble"]["acc"] == pytest.approx(want)
    assert [m["modalities"] for m in out["members"]] == [["thumb"], ["noisy"]]
    assert out["members"][0]["acc"] == pytest.approx(json.loads((thumb / "summary.json").read_text())["test"]["acc"])
    assert ensemble([thumb, noisy], "logmean")["samples"] == 100


@pytest.mark.slow
def test_ensemble_of_seed_groups_pairs_runs_by_seed(seed_groups) -> None:
    groups = seed_groups
    res = lfm("ensemble", str(groups["fashion_thumb"]), str(groups["fashion_noisy"]), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["seeds"] == [0, 1] and out["seeds_left_out"] == [2]
    by_seed = [ensemble([groups[r] / str(s) for r in groups])["ensemble"]["acc"] for s in (0, 1)]
    assert out["ensemble"]["acc"]["mean"] == pytest.approx(np.mean(by_seed))
    assert out["ensemble"]["acc"]["std"] == pytest.approx(np.std(by_seed, ddof=1))
    text = lfm("ensemble", str(groups["fashion_thumb"]), str(groups["fashion_noisy"]))
    assert "left out (not in every folder): seeds 2" in text.stdout
    mixed = lfm("ensemble", str(groups["fashion_thumb"]), str(groups["fashion_noisy"] / "0"))
    assert mixed.returncode == 2 and "not both" in mixed.stderr


@pytest.mark.slow
def test_ensemble_refuses_mismatched_or_unfinished_runs(seed_groups, tmp_path: Path, tiny_mfeat: Path) -> None:
    thumb = seed_groups["fashion_thumb"] / "0"
    other = tmp_path / "m" / "run"
    assert train_in_process(other, recipes.load(tiny_mfeat))[0] == 0
    res = lfm("ensemble", str(thumb), str(other))
    assert res.returncode == 2 and "tested on other samples" in res.stderr and "Traceback" not in res.stderr
    (tmp_path / "empty").mkdir()
    res = lfm("ensemble", str(tmp_path / "empty"), str(tmp_path / "m"))
    assert res.returncode == 2 and "empty is neither a run folder nor a folder of finished runs" in res.stderr
    (other / "predictions.npz").unlink()
    res = lfm("ensemble", str(thumb), str(other))
    assert res.returncode == 2 and "predictions.npz is missing: the run did not reach its test" in res.stderr
    res = lfm("ensemble", str(thumb))
    assert res.returncode == 2 and "two or more run folders" in res.stderr


def test_combination_rules() -> None:
    a = np.array([[0.9, 0.1], [0.6, 0.4]])
    b = np.array([[0.2, 0.8], [0.1, 0.9]])
    assert np.allclose(combine([a, b], "mean"), [[0.55, 0.45], [0.35, 0.65]])
    g = np.sqrt(a * b)
    assert np.allclose(combine([a, b], "logmean"), g / g.sum(1, keepdims=True))


@pytest.mark.parametrize("name", registry.NAMES)
def test_every_method_trains_on_the_fashion_recipe(small_root, tmp_path: Path, name: str) -> None:
    """`lfm run recipes/fashion.toml method.name=NAME` for every method: the recipe as shipped
    (two MLP views) validates with the method, and three epochs on the synthetic asset (a
    larger learning rate than the recipe's 0.01, for the few steps of 400 images) take every
    method to at least twice chance (10 %; the slowest, ML-LSTM, reaches 25 %)."""
    from engine.contract.events import Emitter
    from engine.setup import build_trainer

    extra = ["method.modality=thumb"] if name == "unimodal" else []
    r = recipe_for(small_root, f"method.name={name}", "train.epochs=3", "optim.lr=0.05", "train.threads=1",
                   "data.batch_size=32", *extra)
    trainer = build_trainer(r, tmp_path, Emitter([]))
    assert trainer.train() == "ok"
    test = trainer.test()
    assert test["fused"]["acc"] >= 20, (name, test["fused"])
