"""The prepared-data cache: one memory-mapped `.npy` per modality (spectrograms float16, frames
and images uint8) beside a `.json` that records the parameters that made it, the samples it
covers and the samples whose files were missing or unreadable. A cache whose recorded
parameters or samples differ from what is asked is rebuilt."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from engine.contract import untrusted
from engine.data.manifest import Source
from engine.data.media import MediaError

FORMAT = 1


@dataclass
class ModalitySpec:
    """How one modality becomes a fixed-shape array, and how the model sees it."""
    params: dict                             # recorded in the cache; a change rebuilds it
    shape: tuple[int, ...]
    dtype: str                               # float16 | uint8
    read: Callable[[Source], np.ndarray]
    input_spec: dict
    scale: tuple[list[float], list[float]] | None = None  # uint8 -> (x / 255 - mean) / std per channel


def cache_root(configured: str) -> Path:
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("LFM_CACHE") or Path.home() / ".cache" / "lfm"
    return Path(base) / "prepared"


def dataset_dir(configured: str, dataset: str, root: Path) -> Path:
    """`<cache>/<dataset>-<digest of the data folder's absolute path>`."""
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:10]
    return cache_root(configured) / f"{dataset}-{digest}"


def samples_digest(sources: list[Source]) -> str:
    h = hashlib.sha256()
    for s in sources:
        h.update(s.key().encode() + b"\n")
    return h.hexdigest()[:24]


def read_meta(folder: Path, modality: str) -> dict | None:
    try:
        meta = untrusted.read_json(folder / f"{modality}.json")
    except (OSError, ValueError):  # absent, damaged, past a limit: the cache is rebuilt
        return None
    return meta if isinstance(meta, dict) else None


def is_current(meta: dict | None, spec: ModalitySpec, digest: str, n: int) -> bool:
    return (meta is not None and meta.get("format") == FORMAT and meta.get("params") == spec.params
            and meta.get("samples") == digest and meta.get("n") == n
            and meta.get("shape") == list(spec.shape) and meta.get("dtype") == spec.dtype)


def ensure(folder: Path, modality: str, spec: ModalitySpec, sources: list[Source], progress: bool = True,
           label: str = "") -> tuple[Path, dict, str | None]:
    """The cache file of a modality, built or rebuilt when it is absent or stale. Returns
    (array file, metadata, why it was built or None when it was current)."""
    digest = samples_digest(sources)
    meta = read_meta(folder, modality)
    array = folder / f"{modality}.npy"
    if is_current(meta, spec, digest, len(sources)) and array.is_file():
        return array, meta, None
    if meta is None or not array.is_file():
        why = "no cache yet"
    elif meta.get("params") != spec.params:
        changed = sorted(k for k in set(meta.get("params", {})) | set(spec.params)
                         if meta.get("params", {}).get(k) != spec.params.get(k))
        why = f"parameters changed ({', '.join(changed)})"
    else:
        why = "the samples changed"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{modality}.{os.getpid()}.tmp.npy"
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=spec.dtype, shape=(len(sources), *spec.shape))
    bad: dict[str, str] = {}
    from engine.contract.progress import preparing, progress as report

    what = f"{modality} cache"
    for i, src in enumerate(report(sources, label or modality, "item", disable=not progress)):
        preparing(what, i, len(sources), "files", str(folder))
        try:
            x = spec.read(src)
            if tuple(x.shape) != spec.shape:
                raise MediaError(f"{src.path}: read as shape {tuple(x.shape)}, expected {spec.shape}")
            out[i] = x
        except MediaError as exc:
            bad[str(i)] = str(exc)
    out.flush()
    del out
    os.replace(tmp, array)
    meta = {"format": FORMAT, "params": spec.params, "samples": digest, "n": len(sources),
            "shape": list(spec.shape), "dtype": spec.dtype, "bad": bad}
    tmp_meta = folder / f"{modality}.{os.getpid()}.tmp.json"
    tmp_meta.write_text(json.dumps(meta, indent=1))
    os.replace(tmp_meta, folder / f"{modality}.json")
    preparing(what, len(sources), len(sources), "files", str(folder))
    return array, meta, why
