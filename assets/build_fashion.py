"""Rebuild assets/fashion.npz.xz from the Fashion-MNIST files of Debian's `dataset-fashion-mnist`.

    sudo apt-get install dataset-fashion-mnist
    python assets/build_fashion.py /usr/share/datasets/fashion-mnist

The folder holds the four IDX files as published by Zalando Research (`train-images-idx3-ubyte.gz`,
`train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`). All
70,000 images are kept, quantised to 8 grey levels (0..7, round(v / 255 * 7)) so that the file
stays small (about 7.6 MB); the labels, and which images are Fashion-MNIST's own test set, are
stored beside them. The two modalities are derived from these images when the dataset is loaded
(engine/data/fashion.py).
"""
from __future__ import annotations

import gzip
import io
import lzma
import struct
import sys
from pathlib import Path

import numpy as np

LEVELS = 8
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot")
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def read_idx(path: Path, magic: int, dims: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    got, *shape = struct.unpack(">" + "I" * (1 + dims), raw[:4 * (1 + dims)])
    if got != magic:
        raise SystemExit(f"{path}: not an IDX file of the expected kind (magic {got:#x}, expected {magic:#x})")
    data = np.frombuffer(raw, np.uint8, offset=4 * (1 + dims))
    if data.size != int(np.prod(shape)):
        raise SystemExit(f"{path}: holds {data.size} values, its header says {shape}")
    return data.reshape(shape)


def build(folder: Path, out: Path) -> None:
    images, labels, test = [], [], []
    for split, (img_file, lab_file) in FILES.items():
        for f in (img_file, lab_file):
            if not (folder / f).is_file():
                raise SystemExit(f"{folder / f} is missing; expected the four Fashion-MNIST IDX files "
                                 f"({', '.join(a for p in FILES.values() for a in p)})")
        x = read_idx(folder / img_file, 0x803, 3)
        y = read_idx(folder / lab_file, 0x801, 1)
        if len(x) != len(y) or x.shape[1:] != (28, 28):
            raise SystemExit(f"{folder}: {split} has {len(x)} images of {x.shape[1:]} and {len(y)} labels")
        images.append(x)
        labels.append(y)
        test.append(np.full(len(y), split == "test"))
    q = np.round(np.concatenate(images) / 255.0 * (LEVELS - 1)).astype(np.uint8)
    buf = io.BytesIO()
    np.savez(buf, image=q, label=np.concatenate(labels).astype(np.int64),
             is_test=np.concatenate(test), classes=np.array(CLASSES), levels=np.int64(LEVELS))
    out.write_bytes(lzma.compress(buf.getvalue(), preset=9 | lzma.PRESET_EXTREME))
    print(f"wrote {out}: {len(q)} images ({int(np.concatenate(test).sum())} test), "
          f"{LEVELS} grey levels, {out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python assets/build_fashion.py /usr/share/datasets/fashion-mnist")
    build(Path(sys.argv[1]), Path(__file__).with_name("fashion.npz.xz"))
