"""The six on-disk datasets: every layout read from tiny generated copies, `lfm prepare`, the
prepared cache, the loaders' splits and shapes, bad input, and one short training epoch each."""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import layouts as L
from conftest import ROOT, events_of, run_engine
from engine import prepare
from engine.contract import recipe as recipes
from engine.data import load_dataset
from engine.data.base import epoch_batches, iter_batches
from engine.contract.errors import UserError

LAYOUTS = {
    # name: (dataset, writer, (train, val, test) in the files, classes)
    "cremad": ("cremad", L.cremad, (12, None, 6), 6),
    "cremad_old_no_bom": ("cremad", lambda r: L.cremad(r, bom=False, old=True), (12, None, 6), 6),
    "cremad_flv": ("cremad", lambda r: L.cremad(r, videos=True), (12, None, 6), 6),
    "ks_ogm_fbank": ("kinetics_sounds", L.ks_ogm, (9, None, 3), 3),
    "ks_ogm_wav": ("kinetics_sounds", lambda r: L.ks_ogm(r, fbank=False), (9, None, 3), 3),
    "ks_lab": ("kinetics_sounds", L.ks_lab, (6, 3, 3), 3),
    "vggsound": ("vggsound", L.vggsound, (6, None, 2), 2),
    "sarcasm_tsv": ("sarcasm", L.sarcasm_tsv, (4, 2, 2), 2),
    "sarcasm_raw": ("sarcasm", L.sarcasm_raw, (4, 2, 2), 2),
    "twitter2015": ("twitter2015", L.twitter2015, (6, 3, 3), 3),
    "twitter2015_renamed": ("twitter2015", lambda r: L.twitter2015(r, renamed=True), (6, 3, 3), 3),
    "nvgesture": ("nvgesture", lambda r: L.nvgesture(r, flow_video_for=2), (9, None, 3), 25),
}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Every layout written once for the module; tests that change files copy them first."""
    base = tmp_path_factory.mktemp("layouts")
    return {name: writer(base / name) for name, (_, writer, _, _) in LAYOUTS.items()}


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("LFM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / src.name))


ENCODERS = {
    "audio": {"kind": "cnn", "channels": [4, 8]},
    "video": {"kind": "cnn", "channels": [4, 8]},
    "rgb": {"kind": "cnn", "channels": [4, 8]},
    "depth": {"kind": "cnn", "channels": [4, 8]},
    "flow": {"kind": "cnn", "channels": [4, 8]},
    "image": {"kind": "cnn", "channels": [4, 8]},
    "text": {"kind": "text_bow", "hidden": [8], "embed_dim": 8, "max_tokens": 16},
}


def tiny(dataset: str, root: Path, encoders: dict | None = None, **data) -> recipes.Recipe:
    mods = list(recipes.DATASETS[dataset])
    raw = {"data": {"name": dataset, "root": str(root), "modalities": mods, "image_size": 32, "frames": 2,
                    "val_fraction": 0.5, "batch_size": 4, **data},
           "model": {"feature_dim": 8, "projection_dim": 4,
                     "encoders": {m: (encoders or {}).get(m, ENCODERS[m]) for m in mods}},
           "train": {"epochs": 1, "threads": 1, "log_every": 1}}
    return recipes.from_dict(raw)


def write_recipe(tmp_path: Path, r: recipes.Recipe, name: str) -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text("# tiny run for the tests\n#   lfm run it\n" + recipes.dumps(r))
    return p


# ----------------------------------------------------------------------------- lfm prepare --check

@pytest.mark.parametrize("name", list(LAYOUTS))
def test_prepare_check_reports_samples_classes_and_layout(name, made, capsys) -> None:
    dataset, _, (train, val, test), classes = LAYOUTS[name]
    assert prepare.main([dataset, "--root", str(made[name]), "--check"]) == 0
    out = capsys.readouterr().out
    val_text = str(val) if val is not None else "none in the files"
    assert f"samples: train {train}, val {val_text}" in out and f"test {test} ({train + (val or 0) + test} in all)" in out
    assert f"classes: {classes} (" in out
    assert "all files found and readable" in out


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_the_quick_data_folder_check_accepts_every_layout(name, made) -> None:
    """engine.contract.data_folders, the check the dashboard makes without torch, agrees with the loaders."""
    from engine.contract.data_folders import missing_data

    assert missing_data(LAYOUTS[name][0], str(made[name])) is None


def test_layout_details_in_the_report(made, capsys) -> None:
    prepare.main(["kinetics_sounds", "--root", str(made["ks_lab"]), "--check"])
    out = capsys.readouterr().out
    assert "classes: 3 (bowling, playing piano, tap dancing)" in out  # class names from the CSV, sorted
    prepare.main(["kinetics_sounds", "--root", str(made["ks_ogm_fbank"]), "--check"])
    assert "as fbank .npy" in capsys.readouterr().out
    prepare.main(["cremad", "--root", str(made["cremad_flv"]), "--check"])
    assert "videos at 1 fps VideoFlash/" in capsys.readouterr().out


@pytest.mark.slow
def test_lfm_prepare_builds_the_cache_and_exits_0(made, tmp_path: Path, cache_dir: Path) -> None:
    env = {"LFM_CACHE": str(cache_dir), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", "from lfm_tui.cli import main; main()", "prepare", "cremad",
           "--root", str(made["cremad"]), "data.frames=2", "data.image_size=32"]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**__import__("os").environ, **env})
    assert res.returncode == 0, res.stderr
    assert "cache audio:" in res.stdout and "(1, 257, 299) float16, built (no cache yet)" in res.stdout
    assert "cache video:" in res.stdout and "(2, 3, 32, 32) uint8" in res.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, env={**__import__("os").environ, **env})
    assert again.returncode == 0 and again.stdout.count("up to date") == 2


# ----------------------------------------------------------------------------- bad input

def _prepare_err(args, capsys) -> tuple[int, str]:
    code = prepare.main(args)
    cap = capsys.readouterr()
    return code, cap.out + cap.err


def test_wrong_layout_names_the_expected_files(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code, text = _prepare_err(["cremad", "--root", str(tmp_path / "empty")], capsys)
    assert code == 2
    assert f"cremad: {tmp_path / 'empty'}: no annotation files found; expected annotations/train.csv" in text
    code, text = _prepare_err(["nvgesture", "--root", str(tmp_path / "nope")], capsys)
    assert code == 2 and f"data.root: {tmp_path / 'nope'} is not a folder" in text
    code, text = _prepare_err(["kinetics_sounds", "--root", str(tmp_path / "empty")], capsys)
    assert code == 2 and "expected either the OGM-GE lists my_train.txt" in text
    assert "Traceback" not in text


def test_missing_annotation_file_and_malformed_rows(made, tmp_path: Path, capsys) -> None:
    sar = copy(made["sarcasm_tsv"], tmp_path)
    (sar / "annotations" / "valid.tsv").unlink()
    code, text = _prepare_err(["sarcasm", "--root", str(sar), "--check"], capsys)
    assert code == 2 and f"sarcasm: {sar / 'annotations' / 'valid.tsv'}: annotation file missing; expected" in text
    cre = copy(made["cremad"], tmp_path)
    csv = cre / "annotations" / "test.csv"
    csv.write_bytes(csv.read_bytes() + b"1099_XYZ_BAD_XX,MEH\n")
    code, text = _prepare_err(["cremad", "--root", str(cre), "--check"], capsys)
    assert code == 2 and f"{csv} line 7: expected `<clip id>,<emotion>`" in text and "MEH" in text
    tw = copy(made["twitter2015"], tmp_path)
    (tw / "dev.tsv").write_text("id\tsentiment\n1\t2\n")
    code, text = _prepare_err(["twitter2015", "--root", str(tw), "--check"], capsys)
    assert code == 2 and "expected the header `index, #1 Label, #2 ImageID, #3 String, #3 String`" in text
    nv = copy(made["nvgesture"], tmp_path)
    lst = nv / "nvgesture_test_correct_cvpr2016_v2.lst"
    lst.write_text(lst.read_text() + "path:./x depth:sk_depth label:3\n")
    code, text = _prepare_err(["nvgesture", "--root", str(nv), "--check"], capsys)
    assert code == 2 and f"{lst} line 4: expected `path:<folder> depth:<stem>:<start>:<end>" in text


def test_missing_media_folder_is_a_layout_error(made, tmp_path: Path, capsys) -> None:
    cre = copy(made["cremad"], tmp_path)
    shutil.rmtree(cre / "AudioWAV")
    code, text = _prepare_err(["cremad", "--root", str(cre), "--check"], capsys)
    assert code == 2 and f"{cre / 'AudioWAV'}: audio folder missing (also looked for audio/)" in text


def test_check_lists_every_missing_and_unreadable_file(made, tmp_path: Path, capsys) -> None:
    cre = copy(made["cremad"], tmp_path)
    (cre / "AudioWAV" / "1000_TIE_NEU_XX.wav").unlink()
    shutil.rmtree(cre / "Image-01-FPS" / "1010_TIE_HAP_XX")
    (cre / "AudioWAV" / "1021_TIE_SAD_XX.wav").write_bytes(b"RIFF not really audio")
    (cre / "Image-01-FPS" / "1031_TIE_FEA_XX" / "00002.jpg").write_bytes(b"\xff\xd8 broken")
    code, text = _prepare_err(["cremad", "--root", str(cre), "--check"], capsys)
    assert code == 2
    assert "missing: 2 file(s) in 2 sample(s)" in text
    assert f"1000_TIE_NEU_XX: {cre / 'AudioWAV' / '1000_TIE_NEU_XX.wav'}: missing" in text
    assert f"1010_TIE_HAP_XX: {cre / 'Image-01-FPS' / '1010_TIE_HAP_XX'}: folder missing" in text
    assert "unreadable: 2 file(s) in 2 sample(s)" in text
    assert f"{cre / 'AudioWAV' / '1021_TIE_SAD_XX.wav'}: not a readable audio file" in text
    assert f"{cre / 'Image-01-FPS' / '1031_TIE_FEA_XX' / '00002.jpg'}: not a readable image" in text
    assert "4 of 18 samples have missing or unreadable files" in text


def test_recipe_for_a_disk_dataset_needs_a_root() -> None:
    with pytest.raises(recipes.RecipeError) as info:
        recipes.from_dict({"data": {"name": "cremad", "modalities": ["audio", "video"]},
                           "model": {"encoders": {"audio": {}, "video": {}}}})
    assert info.value.problems == ["data.root: 'cremad' is read from a folder on disk; set data.root to it "
                                   "(see the comment at the top of recipes/cremad.toml)"]


# ----------------------------------------------------------------------------- loaders

SHAPES = {
    "cremad": {"audio": (1, 257, 299), "video": (2, 3, 32, 32)},
    "cremad_old_no_bom": {"audio": (1, 257, 299), "video": (2, 3, 32, 32)},
    "cremad_flv": {"audio": (1, 257, 299), "video": (2, 3, 32, 32)},
    "ks_ogm_fbank": {"audio": (1, 1024, 128), "video": (2, 3, 32, 32)},
    "ks_ogm_wav": {"audio": (1, 257, 1004), "video": (2, 3, 32, 32)},
    "ks_lab": {"audio": (1, 257, 1004), "video": (2, 3, 32, 32)},
    "vggsound": {"audio": (1, 257, 1004), "video": (2, 3, 32, 32)},
    "sarcasm_tsv": {"image": (3, 32, 32), "text": (16,)},
    "sarcasm_raw": {"image": (3, 32, 32), "text": (16,)},
    "twitter2015": {"image": (3, 32, 32), "text": (16,)},
    "twitter2015_renamed": {"image": (3, 32, 32), "text": (16,)},
    "nvgesture": {"rgb": (2, 3, 32, 32), "depth": (2, 1, 32, 32), "flow": (2, 2, 32, 32)},
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_loader_shapes_and_splits(name, made) -> None:
    dataset, _, (train, val, test), classes = LAYOUTS[name]
    d = load_dataset(tiny(dataset, made[name]))
    assert d.num_classes == classes
    assert len(d.test) == test
    if val is None:  # carved from training: round(half) of each class (val_fraction 0.5), stratified
        assert len(d.train) + len(d.val) == train
        per_class = np.bincount(np.concatenate([d.train.labels, d.val.labels]), minlength=classes)
        assert np.bincount(d.val.labels.numpy(), minlength=classes).tolist() == [round(c * 0.5) for c in per_class]
    else:
        assert (len(d.train), len(d.val)) == (train, val)
    inputs, labels = d.train.batch(torch.arange(2))
    assert {m: tuple(x.shape[1:]) for m, x in inputs.items()} == SHAPES[name]
    assert all(x.dtype == torch.float32 for m, x in inputs.items() if m != "text")
    assert labels.shape == (2,)
    assert sorted(np.concatenate([d.train.indices, d.val.indices, d.test.indices]).tolist()) == list(range(train + (val or 0) + test))


def test_twitter_target_fills_the_placeholder_in_both_header_styles(made) -> None:
    from engine.data.imagetext import scan_twitter2015

    for name in ("twitter2015", "twitter2015_renamed"):
        texts = [s.text for s in scan_twitter2015(made[name]).samples]
        assert texts[0] == "RT @ user : Messi wins again 1" and not any("$T$" in t for t in texts)


def test_sarcasm_raw_takes_the_label_at_index_3_for_valid_and_test(made) -> None:
    from engine.data.imagetext import scan_sarcasm

    m = scan_sarcasm(made["sarcasm_raw"])
    val = [s for s in m.samples if s.split == "val"]
    assert [s.label for s in val] == [0, 1]  # index 2 holds the opposite values
    assert val[0].text.startswith("so <user> happy")


def test_frames_are_sorted_by_name_before_sampling(made, monkeypatch) -> None:
    from engine.data import media

    folder = made["cremad"] / "Image-01-FPS" / "1000_TIE_NEU_XX"  # 00001..00003.jpg: grey 40, 120, 200
    real = pathlib.Path.iterdir
    monkeypatch.setattr(pathlib.Path, "iterdir", lambda self: iter(sorted(real(self), reverse=True)))
    red = media.sampled_frames(folder, 3, 8)[:, 0].mean(axis=(1, 2))
    assert np.allclose(red, [40, 120, 200], atol=3)
    assert np.allclose(media.sampled_frames(folder, 1, 8)[:, 0].mean(), 120, atol=3)  # the middle one


def test_video_frames_at_one_per_second_and_frame_ranges(made) -> None:
    from engine.data import media

    # the flv fixture: 25 frames at 10 fps, frame i grey 20 + 8 i -> 1 fps keeps frames 0, 10, 20
    flv = made["cremad_flv"] / "VideoFlash" / "1000_TIE_NEU_XX.flv"
    got = media.video_frames(flv, 3, 8, fps=1.0)[:, 0].mean(axis=(1, 2))
    assert np.allclose(got, [20, 100, 180], atol=6)
    # nvgesture colour frames [3, 15): 12 frames of grey 10 t; 2 evenly spaced -> t = 6 and 12
    avi = made["nvgesture"] / "Video_data" / "class_01" / "subject1_r0" / "sk_color.avi"
    got = media.video_frames(avi, 2, 8, start=3, end=15)[:, 0].mean(axis=(1, 2))
    assert np.allclose(got, [60, 120], atol=6)


@pytest.mark.parametrize("option,columns,expected", [("paper", 299, (257, 299)), ("paper", 1004, (257, 1004)),
                                                     ("released", 299, (257, 1250))])
def test_spectrogram_shapes_and_values(option, columns, expected, made) -> None:
    import librosa

    from engine.data.media import spectrogram, spectrogram_params

    p = spectrogram_params(option, columns)
    path = made["cremad"] / "AudioWAV" / "1000_TIE_NEU_XX.wav"
    got = spectrogram(path, p)
    assert got.shape == expected == p.shape
    # an independent computation: librosa's loader, tiled as the released code tiles
    sr, hop, seconds = (22050, 353, 20) if option == "released" else (16000, 160, None)
    wave, _ = librosa.load(str(path), sr=sr)
    n = sr * seconds if seconds else (columns - 1) * hop
    tiled = np.tile(wave, n // len(wave) + 1)[:n]
    if option == "released":
        tiled = np.clip(tiled, -1, 1)
    ref = np.log(np.abs(librosa.stft(tiled, n_fft=512, hop_length=hop)) + 1e-7)
    assert np.allclose(got, ref, atol=1e-3)


def test_cache_is_float16_memory_mapped_reused_and_rebuilt_when_parameters_change(made, cache_dir) -> None:
    d = load_dataset(tiny("cremad", made["cremad"]))
    assert any("prepared the audio cache of cremad (no cache yet)" in n for n in d.notes)
    arrays = d.train.arrays()
    assert isinstance(arrays["audio"], np.memmap) and arrays["audio"].dtype == np.float16
    assert arrays["video"].dtype == np.uint8
    meta = json.loads(next(cache_dir.rglob("audio.json")).read_text())
    assert meta["params"]["shape"] == [257, 299] and meta["params"]["hop"] == 160 and meta["params"]["sr"] == 16000
    again = load_dataset(tiny("cremad", made["cremad"]))
    assert not any("prepared" in n for n in again.notes)
    released = load_dataset(tiny("cremad", made["cremad"], spectrogram="released"))
    assert any("audio cache of cremad (parameters changed (" in n and "hop" in n for n in released.notes)
    assert not any("video cache" in n for n in released.notes)
    assert released.input_spec["audio"]["shape"] == (1, 257, 1250)
    # the cached values are the spectrogram, to float16 precision
    from engine.data.media import spectrogram, spectrogram_params

    i = int(released.train.indices[0])
    direct = spectrogram(made["cremad"] / "AudioWAV" / f"{sorted_ids(made['cremad'])[i]}.wav",
                         spectrogram_params("released", 299))
    assert np.allclose(np.asarray(released.train.arrays()["audio"][i, 0], dtype=np.float32), direct, atol=2e-2)


def sorted_ids(root: Path) -> list[str]:
    from engine.data.audiovisual import scan_cremad

    return [s.id for s in scan_cremad(root).samples]


def test_missing_files_refused_or_skipped_and_counted(made, tmp_path: Path) -> None:
    cre = copy(made["cremad"], tmp_path)
    (cre / "AudioWAV" / "1000_TIE_NEU_XX.wav").unlink()
    with pytest.raises(UserError) as info:
        load_dataset(tiny("cremad", cre))
    msg = str(info.value)
    assert msg.startswith("cremad: 1 of 18 samples have missing files under")
    assert f"{cre / 'AudioWAV' / '1000_TIE_NEU_XX.wav'}: missing" in msg and 'data.on_missing = "error"' in msg
    d = load_dataset(tiny("cremad", cre, on_missing="skip"))
    assert len(d.train) + len(d.val) + len(d.test) == 17
    assert d.skipped == [f"1000_TIE_NEU_XX: {cre / 'AudioWAV' / '1000_TIE_NEU_XX.wav'}: missing"]


def test_dataloader_workers_give_the_same_batches(made) -> None:
    d = load_dataset(tiny("kinetics_sounds", made["ks_ogm_fbank"]))
    batches = epoch_batches(len(d.train), 2, seed=0, epoch=1)[1:]  # as after a resume at step 1
    direct = list(iter_batches(d.train, batches, 0))
    loaded = list(iter_batches(d.train, batches, 2))
    assert len(direct) == len(loaded) == len(batches)
    for (a, ya), (b, yb) in zip(direct, loaded):
        assert torch.equal(ya, yb) and all(torch.equal(a[m], b[m]) for m in a)


# ----------------------------------------------------------------------------- encoders

def test_video_encoder_pools_frames_over_time_like_ogm_ge() -> None:
    from engine.models.encoders import FramesPooled, ResNet18Small

    torch.manual_seed(0)
    net = ResNet18Small(3, 32, 8).eval()
    enc = FramesPooled(net).eval()
    x = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        trunk = torch.nn.Sequential(*list(net.net.children())[:-1])  # up to the average pool
        pooled = trunk(x.flatten(0, 1)).flatten(1).view(2, 3, -1).mean(1)  # pooled over time and space
        assert torch.allclose(enc(x), net.net.fc(pooled), atol=1e-5)


def test_spectrogram_resnet18_takes_one_channel(made) -> None:
    from engine.models import build_model

    r = tiny("cremad", made["cremad"], encoders={"audio": {"kind": "resnet18"}, "video": {"kind": "resnet18"}})
    d = load_dataset(r)
    model = build_model(r, d).eval()
    assert model.encoders["audio"].net.conv1.in_channels == 1
    inputs, _ = d.test.batch(torch.arange(2))
    with torch.no_grad():
        assert model(inputs).logits.shape == (2, 6)


def test_resnet50_from_a_torchvision_state_dict(tmp_path: Path) -> None:
    from torchvision.models import resnet50

    from engine.models.pretrained import ResNet50

    torch.manual_seed(0)
    ref = resnet50(weights=None)
    torch.save(ref.state_dict(), tmp_path / "resnet50.pth")
    enc = ResNet50(str(tmp_path / "resnet50.pth"), "model.encoders.image.path", 8, freeze=True).eval()
    assert torch.equal(enc.trunk.conv1.weight, ref.conv1.weight)
    assert not enc.trunk.conv1.weight.requires_grad and enc.out.weight.requires_grad
    with torch.no_grad():
        assert enc(torch.randn(1, 3, 64, 64)).shape == (1, 8)
    (tmp_path / "bad.pth").write_bytes(b"not a state dict")
    with pytest.raises(UserError, match=r"model.encoders.image.path: .*bad.pth is not a torchvision state dict"):
        ResNet50(str(tmp_path / "bad.pth"), "model.encoders.image.path", 8, freeze=True)


def test_absent_pretrained_weights_name_the_recipe_key(made, tmp_path: Path) -> None:
    from engine.models import build_model

    r = tiny("sarcasm", made["sarcasm_tsv"], encoders={"image": {"kind": "resnet50"},
                                                       "text": {"kind": "text_bow", "max_tokens": 16}})
    with pytest.raises(UserError, match=r"^model.encoders.image.path: resnet50 needs local pretrained weights, "
                                        r"and it is empty; set model.encoders.image.path to a torchvision"):
        build_model(r, load_dataset(r))
    r = tiny("sarcasm", made["sarcasm_tsv"], encoders={"image": {"kind": "cnn"},
                                                       "text": {"kind": "bert", "path": str(tmp_path / "nope")}})
    with pytest.raises(UserError, match=r"^model.encoders.text.path: bert needs local pretrained weights, and "
                                        r".*nope does not exist; set model.encoders.text.path to a Hugging Face BERT"):
        load_dataset(r)


# ----------------------------------------------------------------------------- one epoch each

def _run(tmp_path: Path, r: recipes.Recipe, name: str, cache_dir: Path) -> list[dict]:
    res = run_engine([str(write_recipe(tmp_path, r, name)), "--runs-dir", str(tmp_path / "runs")], tmp_path,
                     env={"LFM_CACHE": str(cache_dir)})
    assert res.returncode == 0, res.stderr[-3000:]
    return events_of(res.stdout)


def _check_run(evs: list[dict], n_test: int) -> dict:
    kinds = [e["type"] for e in evs]
    assert "run_started" in kinds and set(kinds[:kinds.index("run_started")]) <= {"preparing"}  # caches built first
    started = evs[kinds.index("run_started")]
    assert evs[-1]["status"] == "ok"
    steps = [e for e in evs if e["type"] == "step"]
    assert steps and all(np.isfinite(e["losses"]["total"]) for e in steps)
    test = [e for e in evs if e["type"] == "eval" and e["split"] == "test"][0]
    assert test["samples"] == n_test
    return started


@pytest.mark.slow
def test_one_epoch_cremad_resnet18_skipping_a_missing_clip(made, tmp_path: Path, cache_dir: Path) -> None:
    cre = copy(made["cremad"], tmp_path)
    shutil.rmtree(cre / "Image-01-FPS" / "1002_TIE_NEU_XX")  # a test clip
    r = tiny("cremad", cre, on_missing="skip", frames=1,
             encoders={"audio": {"kind": "resnet18", "width": 8}, "video": {"kind": "resnet18", "width": 8}})
    evs = _run(tmp_path, r, "cremad", cache_dir)
    started = _check_run(evs, 5)
    assert started["skipped_samples"] == 1 and started["split_sizes"] == {"train": 6, "val": 6, "test": 5}
    warn = [e for e in evs if e["type"] == "log" and e["level"] == "warning"]
    assert len(warn) == 1 and warn[0]["message"].startswith("skipped 1 samples with missing or unreadable files")
    assert "1002_TIE_NEU_XX" in warn[0]["message"]


@pytest.mark.slow
@pytest.mark.parametrize("name,workers", [("ks_ogm_fbank", 1), ("ks_lab", 0), ("vggsound", 0), ("nvgesture", 0)])
def test_one_epoch_audio_video_and_gestures(name, workers, made, tmp_path: Path, cache_dir: Path) -> None:
    dataset, _, (train, val, test), _ = LAYOUTS[name]
    evs = _run(tmp_path, tiny(dataset, made[name], workers=workers), name, cache_dir)
    started = _check_run(evs, test)
    assert started["skipped_samples"] == 0 and started["modalities"] == list(recipes.DATASETS[dataset])


@pytest.mark.slow
def test_one_epoch_sarcasm_with_resnet50_and_bert_folders(made, tmp_path: Path, cache_dir: Path) -> None:
    bert = L.tiny_bert(tmp_path / "bert")
    resnet = L.tiny_hf_resnet(tmp_path / "resnet50")
    r = tiny("sarcasm", made["sarcasm_raw"], encoders={
        "image": {"kind": "resnet50", "path": str(resnet), "freeze": False},
        "text": {"kind": "bert", "path": str(bert), "freeze": False, "max_tokens": 16}})
    _check_run(_run(tmp_path, r, "sarcasm", cache_dir), 2)


@pytest.mark.slow
def test_one_epoch_twitter2015_with_clip(made, tmp_path: Path, cache_dir: Path) -> None:
    clip = L.tiny_clip(tmp_path / "clip")
    r = tiny("twitter2015", made["twitter2015"], encoders={
        "image": {"kind": "clip_image", "path": str(clip)},
        "text": {"kind": "clip_text", "path": str(clip), "max_tokens": 16}})
    _check_run(_run(tmp_path, r, "twitter2015", cache_dir), 3)


@pytest.mark.slow
def test_run_with_missing_media_exits_2_without_a_traceback(made, tmp_path: Path, cache_dir: Path) -> None:
    cre = copy(made["cremad"], tmp_path)
    (cre / "AudioWAV" / "1000_TIE_NEU_XX.wav").unlink()
    res = run_engine([str(write_recipe(tmp_path, tiny("cremad", cre), "cremad")), "--runs-dir",
                      str(tmp_path / "runs")], tmp_path, env={"LFM_CACHE": str(cache_dir)})
    assert res.returncode == 2
    assert "error: cremad: 1 of 18 samples have missing files" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists()
