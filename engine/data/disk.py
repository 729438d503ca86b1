"""The six datasets read from disk: layout scan, prepared cache, splits, and batches read from
memory-mapped arrays.

A `DiskSplit` gives the trainer the same `batch(index_tensor)` as the in-memory splits, and is
also a torch Dataset (`__getitems__` reads a whole batch at once), so `iter_batches` can hand it
to a DataLoader with `batch_sampler=` the epoch's batches and `data.workers` processes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine.data import register
from engine.data.audiovisual import scan_cremad, scan_kinetics_sounds, scan_vggsound
from engine.data.base import MultimodalData, stratified_split
from engine.data.cache import ModalitySpec, dataset_dir, ensure
from engine.data.imagetext import scan_sarcasm, scan_twitter2015
from engine.data.manifest import Manifest, Source
from engine.data.media import (SpectrogramParams, flow_jpg_frames, load_fbank, load_image, sampled_frames,
                               spectrogram, spectrogram_params, video_frames)
from engine.data.nvgesture import scan_nvgesture
from engine.data.text import bow_tokens, minilm_embeddings, minilm_path, minilm_tokens
from engine.contract.errors import UserError

IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
CLIP = ([0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711])
FBANK_SHAPE = (1024, 128)  # Kaldi fbank of the OGM-GE Kinetics-Sounds release: frames x mel bins


@dataclass(frozen=True)
class Entry:
    scan: Callable[..., Manifest]
    frames: int = 3          # default of data.frames
    columns: int = 0         # spectrogram columns of the paper's shape (257 x columns)


CATALOG: dict[str, Entry] = {
    "cremad": Entry(scan_cremad, frames=3, columns=299),
    "kinetics_sounds": Entry(scan_kinetics_sounds, frames=3, columns=1004),
    "vggsound": Entry(scan_vggsound, frames=3, columns=1004),
    "sarcasm": Entry(scan_sarcasm),
    "twitter2015": Entry(scan_twitter2015),
    "nvgesture": Entry(scan_nvgesture, frames=8),
}


def scan(data_cfg) -> Manifest:
    return CATALOG[data_cfg.name].scan(Path(data_cfg.root).expanduser(), tuple(data_cfg.modalities))


def frame_count(data_cfg) -> int:
    return data_cfg.frames or CATALOG[data_cfg.name].frames


def _pixel_scale(channels: int, encoder_kind: str):
    if channels == 3:
        return CLIP if encoder_kind == "clip_image" else IMAGENET
    return [0.5] * channels, [0.5] * channels


def spectrogram_spec(p: SpectrogramParams, option: str) -> ModalitySpec:
    """Audio files as 1-channel log spectrograms of `p` (engine.data.media.spectrogram), float16."""
    shape = (1, *p.shape)
    return ModalitySpec({"kind": "spectrogram", "option": option, **p.as_dict()}, shape, "float16",
                        lambda s: spectrogram(Path(s.path), p)[None], {"type": "image", "shape": shape})


def modality_spec(data_cfg, modality: str, manifest: Manifest, encoder_kind: str = "") -> ModalitySpec:
    """What the cache stores for a modality and the input the encoder receives."""
    name, size = data_cfg.name, data_cfg.image_size
    kinds = {s.sources[modality].kind for s in manifest.samples if modality in s.sources}
    if modality == "audio":
        if kinds == {"fbank"}:
            shape = (1, *FBANK_SHAPE)
            return ModalitySpec({"kind": "fbank", "shape": list(FBANK_SHAPE)}, shape, "float16",
                                lambda s: load_fbank(Path(s.path), FBANK_SHAPE)[None],
                                {"type": "image", "shape": shape})
        return spectrogram_spec(spectrogram_params(data_cfg.spectrogram, CATALOG[name].columns),
                                data_cfg.spectrogram)
    if modality == "image":
        shape = (3, size, size)
        return ModalitySpec({"kind": "image", "size": size}, shape, "uint8",
                            lambda s: load_image(Path(s.path), size), {"type": "image", "shape": shape},
                            _pixel_scale(3, encoder_kind))
    # video-like: a few frames per clip
    count = frame_count(data_cfg)
    channels = {"depth": 1, "flow": 2}.get(modality, 3)

    def read(s: Source) -> np.ndarray:
        if s.kind == "frames":
            return sampled_frames(Path(s.path), count, size)
        if s.kind == "video_1fps":
            return video_frames(Path(s.path), count, size, fps=1.0)
        if s.kind == "flow_jpg":
            return flow_jpg_frames(Path(s.path), count, size, s.start, s.end)
        return video_frames(Path(s.path), count, size, channels, start=s.start, end=s.end)

    shape = (count, channels, size, size)
    params = {"kind": "frames", "frames": count, "size": size, "channels": channels,
              "sampling": "evenly spaced over the sorted frames", "sources": sorted(kinds)}
    return ModalitySpec(params, shape, "uint8", read, {"type": "video", "shape": shape},
                        _pixel_scale(channels, encoder_kind))


# ----------------------------------------------------------------------------- splits

class DiskSplit(torch.utils.data.Dataset):
    """Rows of memory-mapped arrays (opened lazily, in each worker) plus in-memory tensors."""

    def __init__(self, files: dict[str, Path], specs: dict[str, ModalitySpec], tensors: dict[str, torch.Tensor],
                 rows: np.ndarray, labels: np.ndarray):
        self.files = files
        # uint8 -> (x / 255 - mean) / std as one multiply and one subtract, in place
        self.scales = {m: (None if s.scale is None else
                           (1.0 / (255.0 * torch.tensor(s.scale[1])).view(-1, 1, 1),
                            (torch.tensor(s.scale[0]) / torch.tensor(s.scale[1])).view(-1, 1, 1)))
                       for m, s in specs.items()}
        self.tensors = {m: t[torch.as_tensor(rows, dtype=torch.long)] for m, t in tensors.items()}
        self.indices = rows
        self.labels = torch.as_tensor(labels[rows], dtype=torch.long)
        self._arrays: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getstate__(self):
        return {**self.__dict__, "_arrays": None}

    def arrays(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = {m: np.load(f, mmap_mode="r") for m, f in self.files.items()}
        return self._arrays

    def batch(self, idx: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        idx = torch.as_tensor(idx, dtype=torch.long)
        rows = self.indices[idx.numpy()]
        inputs: dict[str, torch.Tensor] = {}
        for m, arr in self.arrays().items():
            x = torch.from_numpy(arr[rows]).float()  # one copy out of the page cache, one conversion
            sc = self.scales[m]
            if sc is not None:
                x.mul_(sc[0]).sub_(sc[1])
            inputs[m] = x
        for m, t in self.tensors.items():
            inputs[m] = t[idx]
        return inputs, self.labels[idx]

    def __getitems__(self, idx: list[int]):
        return self.batch(torch.as_tensor(idx, dtype=torch.long))

    def __getitem__(self, i: int):
        inputs, label = self.batch(torch.tensor([i]))
        return {m: x[0] for m, x in inputs.items()}, label[0]


def text_inputs(recipe, modality: str, texts: list[str], train_rows: np.ndarray) -> tuple[torch.Tensor, dict]:
    enc = recipe.model.encoders[modality]
    key = f"model.encoders.{modality}"
    if enc.kind == "text_bow":
        ids, vocab = bow_tokens(texts, train_rows, enc.max_tokens, enc.vocab_min_count)
        return ids, {"type": "tokens", "vocab": vocab}
    if enc.kind == "minilm":
        path = minilm_path(enc.path, f"{key}.path")
        if enc.freeze:
            emb = minilm_embeddings(texts, path, enc.max_tokens)
            return emb, {"type": "embedding", "dim": emb.shape[1]}
        return minilm_tokens(texts, path, enc.max_tokens), {"type": "hf_tokens", "path": str(path), "kind": "minilm"}
    if enc.kind in ("bert", "clip_text"):
        from engine.contract.weights import hf_folder

        path = hf_folder(enc.path, f"{key}.path", enc.kind)
        return minilm_tokens(texts, path, enc.max_tokens), {"type": "hf_tokens", "path": str(path), "kind": enc.kind}
    raise UserError(f"{key}.kind: text needs 'bert', 'clip_text', 'minilm' or 'text_bow', found {enc.kind!r}")


def _problem_lines(bad: dict[int, list[str]], limit: int = 20) -> str:
    lines = [w for i in sorted(bad) for w in bad[i]]
    more = f"\n  ... and {len(lines) - limit} more (lfm prepare --check lists them all)" if len(lines) > limit else ""
    return "\n".join(f"  {w}" for w in lines[:limit]) + more


def load_disk(recipe) -> MultimodalData:
    d = recipe.data
    manifest = scan(d)
    media = [m for m in d.modalities if m != "text"]
    n = len(manifest.samples)
    if n == 0:
        raise UserError(f"{d.name}: the annotation files under {manifest.root} list no samples")
    missing = manifest.missing_files(media)
    if missing and d.on_missing == "error":
        raise UserError(f"{d.name}: {len(missing)} of {n} samples have missing files under {manifest.root} "
                        f"(data.on_missing = \"error\"; set it to \"skip\" to leave them out and count them):\n"
                        f"{_problem_lines(missing)}")
    specs = {m: modality_spec(d, m, manifest, recipe.model.encoders[m].kind) for m in media}
    folder = dataset_dir(d.cache, d.name, manifest.root)
    files, notes, unreadable = {}, [], {}
    for m, spec in specs.items():
        files[m], meta, why = ensure(folder, m, spec, [s.sources[m] for s in manifest.samples],
                                     label=f"{d.name} {m}")
        if why:
            notes.append(f"prepared the {m} cache of {d.name} ({why}) in {folder}")
        for i, reason in meta["bad"].items():
            if int(i) not in missing:
                unreadable.setdefault(int(i), []).append(reason)
    if unreadable and d.on_missing == "error":
        raise UserError(f"{d.name}: {len(unreadable)} of {n} samples have unreadable files under {manifest.root} "
                        f"(data.on_missing = \"error\"; set it to \"skip\" to leave them out and count them):\n"
                        f"{_problem_lines(unreadable)}")
    bad = {**missing, **{i: missing.get(i, []) + w for i, w in unreadable.items()}}
    keep = np.array([i for i in range(n) if i not in bad], dtype=np.int64)
    labels = np.array([s.label for s in manifest.samples], dtype=np.int64)
    split_of = np.array([s.split for s in manifest.samples])
    parts = {k: keep[split_of[keep] == k] for k in ("train", "val", "test")}
    if not manifest.has_val:  # carved from training: stratified, seeded
        sub = stratified_split(labels[parts["train"]], d.val_fraction, 0.0, d.split_seed)
        parts["val"], parts["train"] = parts["train"][sub["val"]], parts["train"][sub["train"]]
    for k, v in parts.items():
        if len(v) == 0:
            raise UserError(f"{d.name}: the {k} split is empty after reading {manifest.root} "
                            f"({len(bad)} samples skipped for missing or unreadable files)")
    tensors, input_spec = {}, {m: s.input_spec for m, s in specs.items()}
    if "text" in d.modalities:
        tensors["text"], input_spec["text"] = text_inputs(recipe, "text", [s.text for s in manifest.samples],
                                                          parts["train"])
    split = {k: DiskSplit(files, specs, tensors, v, labels) for k, v in parts.items()}
    skipped = [f"{manifest.samples[i].id}: {'; '.join(w)}" for i, w in sorted(bad.items())]
    data = MultimodalData(d.name, tuple(d.modalities), manifest.class_names, split["train"], split["val"],
                          split["test"], input_spec)
    data.skipped, data.notes = skipped, [f"{d.name}: {manifest.layout}", *notes]
    return data


for _name in CATALOG:
    register(_name)(load_disk)
