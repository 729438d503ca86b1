"""What a dataset folder holds: its samples (id, label, split, where each modality's file is),
classes and annotation files, as found by a dataset's `scan(root, modalities)`.

Layout problems (no annotation file, a malformed row, a missing media folder) raise
`LayoutError`, one message naming the file and the layout expected. Missing media files are not
errors here: `missing_files` lists them, and the loader refuses or skips them as the recipe's
`data.on_missing` says.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from engine.contract.errors import UserError
from engine.data.media import IMAGE_SUFFIXES


class LayoutError(UserError):
    """The folder is not in a layout the dataset's loader knows."""


@dataclass(frozen=True)
class Source:
    """Where one modality of one sample comes from.

    kind: wav | fbank (a .npy) | frames (a folder of jpgs) | video_1fps (frames at 1 fps from a
    video) | video_range (frames [start, end) of a video) | flow_jpg (a folder of flow_x/flow_y
    jpgs, pairs [start, end)) | image (one image file).
    """
    kind: str
    path: str
    start: int = 0
    end: int | None = None

    def key(self) -> str:
        return f"{self.kind}:{self.path}:{self.start}:{self.end}"

    def missing(self) -> str | None:
        """Why the file is not there, or None when it is."""
        p = Path(self.path)
        if self.kind in ("frames", "flow_jpg"):
            if not p.is_dir():
                return "folder missing"
            if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir()):
                return "no frames in the folder"
            return None
        return None if p.is_file() else "missing"

    def files(self) -> list[Path]:
        p = Path(self.path)
        if self.kind in ("frames", "flow_jpg"):
            return sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        return [p]


@dataclass
class Sample:
    id: str
    label: int
    split: str                      # train | val | test
    sources: dict[str, Source] = field(default_factory=dict)
    text: str = ""


@dataclass
class Manifest:
    dataset: str
    layout: str                     # a one-line description of the layout found
    root: Path
    class_names: list[str]
    samples: list[Sample]
    annotation_files: list[Path]

    @property
    def has_val(self) -> bool:
        return any(s.split == "val" for s in self.samples)

    def split_counts(self) -> dict[str, int]:
        out = {"train": 0, "val": 0, "test": 0}
        for s in self.samples:
            out[s.split] += 1
        return out

    def missing_files(self, modalities) -> dict[int, list[str]]:
        """Sample position -> 'path: reason' for each of its files that is not there."""
        out: dict[int, list[str]] = {}
        for i, s in enumerate(self.samples):
            for m in modalities:
                src = s.sources.get(m)
                if src is None:
                    continue
                why = src.missing()
                if why:
                    out.setdefault(i, []).append(f"{src.path}: {why}")
        return out


def require_root(dataset: str, root: Path, expected: str) -> None:
    if not root.is_dir():
        raise LayoutError(f"data.root: {root} is not a folder (expected the {dataset} folder: {expected})")


def read_text(path: Path) -> str:
    """UTF-8 text with a possible byte-order mark removed."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LayoutError(f"{path}: not UTF-8 text ({exc})") from None


def csv_rows(path: Path, delimiter: str = ",", quoting: int = csv.QUOTE_MINIMAL) -> list[list[str]]:
    """Rows of a CSV/TSV file (BOM tolerated), blank rows dropped."""
    text = read_text(path)
    return [r for r in csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting)
            if any(c.strip() for c in r)]


def first_dir(root: Path, names: list[str]) -> Path | None:
    for n in names:
        if (root / n).is_dir():
            return root / n
    return None


def dir_has(folder: Path, suffix: str, look: int = 200) -> bool:
    """Whether one of the first `look` entries of a folder ends with `suffix`."""
    import itertools
    import os

    with os.scandir(folder) as it:
        return any(e.name.lower().endswith(suffix) for e in itertools.islice(it, look))


def class_index(names: list[str]) -> dict[str, int]:
    return {n: i for i, n in enumerate(names)}
