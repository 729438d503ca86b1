"""The built-in audio-visual benchmark `spoken_fashion`: the shipped asset against its recorded
checksum, the audio decode and spectrogram path against librosa called directly, the splits
(voices disjoint), the loader's refusal of a damaged asset, a short run, and `lfm prepare
spoken_fashion` building the cache that runs then read."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import RECIPES, ROOT, events_of, only_run_dir, run_engine
from engine.contract import recipe as recipes
from engine.contract.errors import UserError
from engine.data import load_dataset
from engine.data.media import spectrogram
from engine.data.spoken_fashion import FILE, SPECTROGRAM

ASSET = ROOT / "assets" / FILE


def rows() -> list[dict]:
    with zipfile.ZipFile(ASSET) as zf:
        return list(csv.DictReader(io.StringIO(zf.read("samples.csv").decode())))


def recipe_for(root: Path, cache: Path) -> object:
    return recipes.load(RECIPES / "spoken_fashion_concat.toml", [f"data.root={root}", f"data.cache={cache}"])


def small_root(folder: Path, keep: int) -> Path:
    """A copy of the shipped asset holding the first `keep` clips of each split, and the images."""
    folder.mkdir()
    table = rows()
    picked = [r for s in ("train", "val", "test") for r in [r for r in table if r["split"] == s][:keep]]
    out = io.StringIO()
    w = csv.DictWriter(out, list(table[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(picked)
    with zipfile.ZipFile(ASSET) as src, zipfile.ZipFile(folder / FILE, "w") as dst:
        dst.writestr("meta.json", src.read("meta.json"))
        dst.writestr("samples.csv", out.getvalue())
        for r in picked:
            dst.writestr(f"clips/{r['id']}.opus", src.read(f"clips/{r['id']}.opus"))
    (folder / "fashion.npz.xz").symlink_to(ROOT / "assets" / "fashion.npz.xz")
    return folder


def test_asset_checksum_and_provenance_match_the_readme() -> None:
    readme = (ROOT / "assets" / "README.md").read_text()
    section = readme.split(f"## `{FILE}`")[1].split("\n## ")[0]
    recorded = re.search(r"sha256\s+`([0-9a-f]{64})`", section).group(1)
    assert hashlib.sha256(ASSET.read_bytes()).hexdigest() == recorded
    size_mb = float(re.search(r"([\d.]+) MB", section).group(1))
    assert ASSET.stat().st_size / 1e6 == pytest.approx(size_mb, abs=0.05)
    with zipfile.ZipFile(ASSET) as zf:
        meta = json.loads(zf.read("meta.json"))
        assert sum(1 for n in zf.namelist() if n.startswith("clips/")) == 3000
    assert meta["espeak_ng"].split(":")[-1].strip() in section  # the synthesiser's version is named
    assert meta["classes"][0] == "t-shirt" and len(meta["classes"]) == 10


def build_script():
    """assets/build_spoken_fashion.py as a module (it is a script, not part of the package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("build_spoken_fashion", ROOT / "assets" / "build_spoken_fashion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_encodes_a_wave_to_the_same_bytes_every_time_and_the_shipped_clips_carry_its_serials() -> None:
    """libsndfile gives each Ogg stream a random serial number; the build sets it to the clip's
    index and recomputes each page's checksum, so that two builds give the same bytes. Every
    shipped clip is left unchanged by that rewrite (its serial is its index and its checksums are
    Ogg's), and the rewrite keeps the audio."""
    import soundfile as sf
    build = build_script()
    wave = (0.1 * np.random.default_rng(0).standard_normal(4000)).astype(np.float32)
    first, second = build.encode(wave, 7), build.encode(wave, 7)
    assert first == second and int.from_bytes(first[14:18], "little") == 7
    other = build.with_serial(first, 8)
    assert other != first and build.with_serial(other, 7) == first   # only serial and checksums differ
    assert np.array_equal(sf.read(io.BytesIO(other))[0], sf.read(io.BytesIO(first))[0])
    with zipfile.ZipFile(ASSET) as zf:
        for r in rows():
            clip = zf.read(f"clips/{r['id']}.opus")
            assert build.with_serial(clip, int(r["id"])) == clip, r["id"]
    with pytest.raises(ValueError, match="not an Ogg page at byte 0"):
        build.with_serial(b"RIFF" + first[4:], 1)


def test_decode_and_spectrogram_equal_librosa_called_directly(tmp_path: Path) -> None:
    import librosa

    clip = tmp_path / "clip.opus"
    with zipfile.ZipFile(ASSET) as zf:
        clip.write_bytes(zf.read(f"clips/{rows()[7]['id']}.opus"))
    ours = spectrogram(clip, SPECTROGRAM)
    wave, sr = librosa.load(clip, sr=8000, mono=True)
    assert sr == 8000 and 0.2 < len(wave) / sr < 2.0  # a spoken word
    tiled = np.tile(wave, -(-10240 // len(wave)))[:10240]
    direct = np.log(np.abs(librosa.stft(tiled, n_fft=256, hop_length=160)) + 1e-7)
    assert ours.shape == direct.shape == (129, 65)
    assert np.abs(ours - direct).max() < 1e-3
    assert direct.mean() > -8.0  # a real signal: silence gives log(1e-7) = -16.1 everywhere


def test_splits_are_by_voice_and_the_loader_keeps_them(tmp_path: Path) -> None:
    table = rows()
    voices = {s: {r["voice"] for r in table if r["split"] == s} for s in ("train", "val", "test")}
    assert not voices["test"] & voices["train"] and not voices["val"] & voices["train"]
    assert not voices["test"] & voices["val"]
    assert len(voices["train"]) >= 50 and len(voices["test"]) >= 15
    counts = {s: sum(r["split"] == s for r in table) for s in voices}
    assert counts["train"] > 1800 and counts["test"] > 500 and sum(counts.values()) == 3000
    images = [int(r["image"]) for r in table]
    assert len(set(images)) == len(images)  # no image in two samples
    assert all((int(r["image"]) >= 60000) == (r["split"] == "test") for r in table)  # test images from the test set

    data = load_dataset(recipe_for(small_root(tmp_path / "root", 30), tmp_path / "cache"))
    small = [r for s in ("train", "val", "test") for r in [r for r in table if r["split"] == s][:30]]
    for split in ("train", "val", "test"):
        want = [i for i, r in enumerate(small) if r["split"] == split]
        assert data.split(split).indices.tolist() == want
    inputs, labels = data.test.batch(np.arange(4))
    assert inputs["audio"].shape == (4, 1, 129, 65) and inputs["image"].shape == (4, 1, 28, 28)
    assert labels.tolist() == [int(r["label"]) for r in small if r["split"] == "test"][:4]
    # the cached spectrogram is the one media.spectrogram computes from the unpacked clip
    clip = next((tmp_path / "cache").rglob(f"{small[60]['id']}.opus"))
    cached = inputs["audio"][0, 0].numpy()
    assert np.abs(cached - spectrogram(clip, SPECTROGRAM)).max() < 0.02  # float16 in the cache


def test_a_damaged_asset_is_one_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / FILE).write_bytes(b"not a zip")
    (root / "fashion.npz.xz").symlink_to(ROOT / "assets" / "fashion.npz.xz")
    with pytest.raises(UserError, match="not a readable spoken_fashion asset.*build_spoken_fashion.py"):
        load_dataset(recipe_for(root, tmp_path / "cache"))


def test_narrow_resnet18_has_the_layout_at_the_given_width() -> None:
    import torch

    from engine.models.encoders import ResNet18Small

    net = ResNet18Small(1, 65, 16, width=8)
    widths = [getattr(net.net, f"layer{i}")[1].conv2.out_channels for i in range(1, 5)]
    assert widths == [8, 16, 32, 64] and len(net.net.layer3) == 2
    assert net(torch.zeros(3, 1, 129, 65)).shape == (3, 16)
    assert net.net.conv1.in_channels == 1 and net.net.conv1.stride == (2, 2)


@pytest.mark.slow
def test_short_run_finishes(tmp_path: Path) -> None:
    root = small_root(tmp_path / "root", 40)
    runs = tmp_path / "runs"
    res = run_engine([str(RECIPES / "spoken_fashion_concat.toml"), f"data.root={root}",
                      f"data.cache={tmp_path / 'cache'}", "train.epochs=1", "train.threads=1",
                      "data.batch_size=16", "review.gap_samples=0", "review.gradcam=false",
                      "--runs-dir", str(runs)], tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    finished = [e for e in events_of(res.stdout) if e["type"] == "run_finished"][0]
    assert finished["status"] == "ok"
    s = json.loads((only_run_dir(runs) / "summary.json").read_text())
    assert s["dataset"] == "spoken_fashion" and s["modalities"] == ["audio", "image"]
    assert 0 <= s["test"]["acc"] <= 100 and "acc_audio" in s["test"]


# ----------------------------------------------------------------------------- lfm prepare spoken_fashion

LFM = [sys.executable, "-c", "from lfm_tui.cli import main; main()"]


@pytest.mark.slow  # a subprocess and a run's setup: about 25 s on 2 busy cores
def test_lfm_prepare_builds_the_cache_that_a_run_then_reads(tmp_path: Path, monkeypatch, capsys) -> None:
    """`lfm prepare spoken_fashion` (no --root: the assets folder, here $LFM_ASSETS) reports what the
    asset holds and builds the audio cache by the code a first run calls; a run afterwards finds it
    current: it prepares nothing and the cache files are not written again."""
    from engine.contract.events import Preparing, parse_line
    from engine.run import EngineRun

    root = small_root(tmp_path / "root", 10)
    cache = tmp_path / "cache"
    monkeypatch.setenv("LFM_ASSETS", str(root))
    monkeypatch.setenv("LFM_CACHE", str(cache))
    res = subprocess.run([*LFM, "prepare", "spoken_fashion"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    [array] = cache.rglob("audio.npy")
    small = [r for s in ("train", "val", "test") for r in [r for r in rows() if r["split"] == s][:10]]
    voices = {s: len({r["voice"] for r in small if r["split"] == s}) for s in ("train", "val", "test")}
    with zipfile.ZipFile(ASSET) as zf:
        classes = json.loads(zf.read("meta.json"))["classes"]
    assert res.stdout.splitlines() == [
        f"spoken_fashion (built in) at {root / FILE}",
        f"  samples: train 10 ({voices['train']} voices), val 10 ({voices['val']} voices), "
        f"test 10 ({voices['test']} voices) (30 in all)",
        f"  classes: 10 ({', '.join(classes)})",
        "  audio: 129x65 log spectrograms (8000 Hz, n_fft 256, hop 160)",
        f"  cache audio: {array} (1, 129, 65) float16, built (no cache yet)",
        "  all clips decoded; cache ready"]
    cached = np.load(array)
    clip = next(cache.rglob(f"{small[0]['id']}.opus"))
    assert cached.shape == (30, 1, 129, 65) and np.abs(cached[0, 0] - spectrogram(clip, SPECTROGRAM)).max() < 0.02
    written = {p: p.stat().st_mtime_ns for p in array.parent.iterdir()}

    stream = io.StringIO()
    run = EngineRun(recipes.load(RECIPES / "spoken_fashion_concat.toml", ["train.threads=1"]),
                    run_dir=tmp_path / "run", stream=stream)
    try:
        run.setup()
    finally:
        run.cleanup()
    heard = [parse_line(line) for line in stream.getvalue().splitlines()]
    assert not [e for e in heard if isinstance(e, Preparing)]
    assert {p: p.stat().st_mtime_ns for p in array.parent.iterdir()} == written

    from engine import prepare

    assert prepare.main(["spoken_fashion"]) == 0   # the same again: current
    assert f"  cache audio: {array} (1, 129, 65) float16, up to date" in capsys.readouterr().out


@pytest.mark.parametrize("content,why", [
    (b"not a zip", "is not a readable spoken_fashion asset (File is not a zip file); rebuild it with "
                   "assets/build_spoken_fashion.py (see assets/README.md)"),
    (None, "spoken_fashion.zip is missing (looked in data.root); rebuild it with the script in assets/"),
])
def test_lfm_prepare_refuses_a_damaged_or_missing_asset_in_one_line(tmp_path: Path, monkeypatch, capsys,
                                                                    content, why) -> None:
    from engine import prepare

    monkeypatch.setenv("LFM_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "root"
    root.mkdir()
    if content is not None:
        (root / FILE).write_bytes(content)
    (root / "fashion.npz.xz").symlink_to(ROOT / "assets" / "fashion.npz.xz")
    assert prepare.main(["spoken_fashion", "--root", str(root)]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1
    assert cap.err.startswith(f"error: dataset 'spoken_fashion': {root / FILE} ") and why in cap.err
    assert not (tmp_path / "cache").exists()


def test_lfm_prepare_of_a_dataset_folder_without_root_is_one_line(tmp_path: Path) -> None:
    res = subprocess.run([*LFM, "prepare", "cremad"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr == "--root: cremad is read from its dataset folder: lfm prepare cremad --root PATH\n"
