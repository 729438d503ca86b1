"""`spoken_fashion`: a built-in audio-visual benchmark (docs/audio-visual.md). Each sample is a
short clip of a synthetic voice saying a Fashion-MNIST class name (`audio`, assets/
spoken_fashion.zip, built by assets/build_spoken_fashion.py with espeak-ng) and a Fashion-MNIST
image of the same class (`image`, from assets/fashion.npz.xz).

The audio goes the way CREMA-D's does: the clips (Ogg Opus) are unpacked once into the prepared-
data folder, and `engine.data.cache.ensure` turns them into log spectrograms with
`engine.data.media.spectrogram` (soundfile to decode, librosa's STFT), stored as a memory-mapped
float16 array that later runs read. The spectrogram is 129x65: 8 kHz, n_fft 256, hop 160 (20 ms),
the clip tiled to 64 * 160 samples (1.28 s).

The image is the 28x28 item at 8 grey levels scaled to [0, 1] with Gaussian noise of std
`data.noise` added once (drawn from `data.split_seed`), standardised by the training split.

Splits come with the asset and are by voice: no voice of the validation or test split speaks in
training; test images come from Fashion-MNIST's test set (`data.val_fraction`,
`data.test_fraction` are not used).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from engine.contract import untrusted
from engine.contract.errors import UserError
from engine.data import register
from engine.data.base import MultimodalData, asset_path
from engine.data.cache import dataset_dir, ensure
from engine.data.disk import DiskSplit, spectrogram_spec
from engine.data.fashion import read_asset
from engine.data.manifest import Source
from engine.data.media import SpectrogramParams

FILE = "spoken_fashion.zip"
SPECTROGRAM = SpectrogramParams(sr=8000, n_fft=256, hop=160, samples=64 * 160, clip=False)
MAX_ZIP = 64 * 1024 ** 2        # the archive; the shipped one is about 5 MB
MAX_CLIP = 1024 ** 2            # one clip
MAX_CLIPS = 100_000
CLIP_NAME = re.compile(r"clips/(\d{5,6})\.opus")
SPLITS = ("train", "val", "test")


class AssetError(UserError):
    def __init__(self, path: Path, why: str):
        super().__init__(f"dataset 'spoken_fashion': {path} is not a readable spoken_fashion asset ({why}); "
                         f"rebuild it with assets/build_spoken_fashion.py (see assets/README.md)")


def read_table(path: Path) -> tuple[dict, list[dict]]:
    """meta.json and the rows of samples.csv, checked; sizes bounded before anything is read."""
    try:
        if path.stat().st_size > MAX_ZIP:
            raise ValueError(f"larger than {MAX_ZIP // 1024 ** 2} MiB")
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            if len(infos) > MAX_CLIPS + 2:
                raise ValueError(f"{len(infos)} members")
            for name in ("meta.json", "samples.csv"):
                if name not in infos or infos[name].file_size > untrusted.MAX_JSON_BYTES:
                    raise ValueError(f"{name} missing or too large")
            meta = untrusted.loads(zf.read("meta.json").decode("utf-8"))
            rows = list(csv.DictReader(io.StringIO(zf.read("samples.csv").decode("utf-8"))))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise AssetError(path, str(e)) from None
    classes = meta.get("classes") if isinstance(meta, dict) else None
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        raise AssetError(path, "meta.json has no list of classes")
    for n, r in enumerate(rows, 2):
        try:
            r["label"], r["image"] = int(r["label"]), int(r["image"])
            ok = (0 <= r["label"] < len(classes) and r["split"] in SPLITS and r["image"] >= 0
                  and f"clips/{r['id']}.opus" in infos and CLIP_NAME.fullmatch(f"clips/{r['id']}.opus")
                  and infos[f"clips/{r['id']}.opus"].file_size <= MAX_CLIP and r["voice"])
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise AssetError(path, f"samples.csv line {n} is not `id,label,split,voice,...,image` "
                                   f"with a clip of that id")
    if not rows or len({r["id"] for r in rows}) != len(rows):
        raise AssetError(path, "samples.csv lists no clips, or a clip twice")
    return meta, rows


def unpack(path: Path, rows: list[dict], folder: Path) -> Path:
    """The clips, unpacked once into `folder/clips-<digest of the archive>/`."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    out = folder / f"clips-{digest}"
    done = out / ".complete"
    if done.is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path) as zf:
        for r in rows:
            (out / f"{r['id']}.opus").write_bytes(zf.read(f"clips/{r['id']}.opus"))
    done.write_text(json.dumps({"clips": len(rows), "archive": str(path)}))
    return out


def image_view(images: np.ndarray, levels: int, noise: float, seed: int) -> torch.Tensor:
    x = images.astype(np.float32) / (levels - 1)
    rng = np.random.default_rng([seed, 3])
    x = x + np.float32(noise) * rng.standard_normal(x.shape, dtype=np.float32)
    return torch.from_numpy(x).unsqueeze(1)


class Asset(NamedTuple):
    path: Path                  # the archive
    meta: dict
    rows: list[dict]            # samples.csv, checked
    fashion: dict               # fashion.npz.xz's arrays
    index: np.ndarray           # each sample's Fashion-MNIST image
    labels: np.ndarray


class AudioCache(NamedTuple):
    folder: Path                # the prepared-data folder (unpacked clips, spectrograms)
    array: Path                 # the spectrograms' array file
    spec: object                # its ModalitySpec
    meta: dict                  # its metadata (shape and dtype per sample)
    why: str | None             # why it was built now; None where it was current


def read(recipe) -> Asset:
    """The asset (`data.root`, else $LFM_ASSETS, else assets/) and the Fashion-MNIST images it
    points at, checked: AssetError where it is damaged, UserError where it is missing."""
    path = asset_path(recipe, FILE)
    meta, rows = read_table(path)
    fashion = read_asset(asset_path(recipe, "fashion.npz.xz"))
    index = np.array([r["image"] for r in rows], dtype=np.int64)
    labels = np.array([r["label"] for r in rows], dtype=np.int64)
    if index.max() >= len(fashion["label"]) or (fashion["label"][index] != labels).any():
        raise AssetError(path, "its images do not match fashion.npz.xz (an image index out of range or of "
                               "another class)")
    return Asset(path, meta, rows, fashion, index, labels)


def audio_cache(recipe, asset: Asset) -> AudioCache:
    """The audio's prepared cache, built where it is absent or stale: what a run's first load and
    `lfm prepare spoken_fashion` both call, so that either finds what the other built."""
    folder = dataset_dir(recipe.data.cache, "spoken_fashion", asset.path)
    clips = unpack(asset.path, asset.rows, folder)
    spec = spectrogram_spec(SPECTROGRAM, "spoken_fashion")
    array, meta, why = ensure(folder, "audio", spec, [Source("wav", str(clips / f"{r['id']}.opus"))
                                                     for r in asset.rows], label="spoken_fashion audio")
    if meta["bad"]:
        first = next(iter(meta["bad"].values()))
        raise UserError(f"dataset 'spoken_fashion': {len(meta['bad'])} clips could not be decoded "
                        f"(first: {first}); delete {folder} and run again")
    return AudioCache(folder, array, spec, meta, why)


def voices(rows: list[dict]) -> dict[str, int]:
    """The number of voices speaking in each split."""
    return {k: len({r["voice"] for r in rows if r["split"] == k}) for k in SPLITS}


@register("spoken_fashion")
def load(recipe) -> MultimodalData:
    d = recipe.data
    for m in d.modalities:
        kind = recipe.model.encoders[m].kind
        if kind not in ("cnn", "resnet18"):
            raise UserError(f"model.encoders.{m}.kind: the spoken_fashion {m} is an image-like input; "
                            f"use 'cnn' or 'resnet18', found {kind!r}")
    asset = read(recipe)
    meta, rows, fashion, index, labels = asset.meta, asset.rows, asset.fashion, asset.index, asset.labels
    cache = audio_cache(recipe, asset)
    audio, spec, why, folder = cache.array, cache.spec, cache.why, cache.folder
    split_of = np.array([r["split"] for r in rows])
    parts = {k: np.flatnonzero(split_of == k) for k in SPLITS}
    image = image_view(fashion["image"][index], int(fashion["levels"]), d.noise, d.split_seed)
    mean, std = image[parts["train"]].mean(), image[parts["train"]].std()
    image = (image - mean) / std
    files, specs, tensors = {}, {}, {}
    if "audio" in d.modalities:
        files["audio"], specs["audio"] = audio, spec
    if "image" in d.modalities:
        tensors["image"] = image
    split = {k: DiskSplit(files, specs, tensors, v, labels) for k, v in parts.items()}
    input_spec = {"audio": spec.input_spec, "image": {"type": "image", "shape": (1, 28, 28)}}
    spoken = voices(rows)
    data = MultimodalData("spoken_fashion", tuple(d.modalities), [str(c) for c in meta["classes"]],
                          split["train"], split["val"], split["test"],
                          {m: input_spec[m] for m in d.modalities})
    data.notes = [f"spoken_fashion: audio {SPECTROGRAM.shape[0]}x{SPECTROGRAM.shape[1]} log spectrograms of "
                  f"{len(rows)} spoken class names, image 28x28 + N(0, {d.noise}^2); "
                  + ", ".join(f"{len(parts[k])} {k} ({spoken[k]} voices)" for k in SPLITS)]
    if why:
        data.notes.append(f"prepared the audio cache of spoken_fashion ({why}) in {folder}")
    return data
