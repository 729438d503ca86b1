"""`fashion`: a benchmark where modality imbalance hurts, built from Fashion-MNIST (70,000
28x28 clothing images, 10 classes; assets/build_fashion.py ships them at 8 grey levels).

Each sample pairs two views that differ the way audio and video differ in CREMA-D
(docs/fashion.md says why and what it measures):

- `thumb`: the item's own image average-pooled to a coarse thumbnail (`data.thumbnail` pixels
  per side of a block: 4 gives 7x7). Clean and low-dimensional, it is learned within a few
  epochs and dominates a jointly trained model, but the fine detail that separates shirts from
  T-shirts, pullovers and coats is gone.
- `noisy`: the full 28x28 image of *another* item of the same class, with Gaussian noise of
  standard deviation `data.noise` (pixel values in [0, 1]) added once and kept. The partner
  carries evidence about the class that the thumbnail lacks (the two views are independent
  given the class, as in the noisy two-view construction of Wang, Arora, Livescu and Bilmes,
  "On Deep Multi-View Representation Learning", ICML 2015), but it is noisy and slow to learn.
  `data.pairing = "item"` uses the item's own image instead of a partner's.

Splits: Fashion-MNIST's own 10,000 test images are the test split (`data.test_fraction` is not
used); `data.val_fraction` of its 60,000 training images, per class, are the validation split.
Partners are drawn within each split (no image is seen in two splits), per class, as a
derangement of a seeded shuffle; the noise is drawn once per sample. `data.split_seed` fixes the
split, the partners and the noise, so every training seed sees the same data.
"""
from __future__ import annotations

import io
import lzma

import numpy as np
import torch

from engine.data import register
from engine.data.base import MultimodalData, asset_path, make_splits, standardize, stratified_split
from engine.contract.errors import UserError

FILE = "fashion.npz.xz"
MODALITIES = ("thumb", "noisy")


def read_asset(path) -> dict[str, np.ndarray]:
    try:
        raw = lzma.decompress(path.read_bytes())
        with np.load(io.BytesIO(raw)) as z:
            return {k: z[k] for k in ("image", "label", "is_test", "classes", "levels")}
    except (lzma.LZMAError, ValueError, KeyError, OSError) as e:
        raise UserError(f"dataset 'fashion': {path} is not a readable fashion asset ({e}); "
                        f"rebuild it with assets/build_fashion.py (see assets/README.md)") from None


def split_parts(labels: np.ndarray, is_test: np.ndarray, val_fraction: float, seed: int
                ) -> dict[str, np.ndarray]:
    """The official test images; validation = val_fraction of the training images per class."""
    train_pos = np.flatnonzero(~is_test)
    inner = stratified_split(labels[train_pos], val_fraction, 0.0, seed)
    return {"train": train_pos[inner["train"]], "val": train_pos[inner["val"]],
            "test": np.flatnonzero(is_test)}


def partners(labels: np.ndarray, parts: dict[str, np.ndarray], seed: int) -> np.ndarray:
    """partner[i]: another sample of i's class in i's split (a cyclic shift of a seeded shuffle,
    so nobody is their own partner and every image is used as a partner exactly once)."""
    rng = np.random.default_rng([seed, 1])
    out = np.arange(len(labels))
    for name in ("train", "val", "test"):
        pos = parts[name]
        for c in np.unique(labels[pos]):
            members = pos[labels[pos] == c]
            if len(members) < 2:
                continue
            shuffled = members[rng.permutation(len(members))]
            out[shuffled] = np.roll(shuffled, -1)
    return out


def build_views(images: np.ndarray, levels: int, labels: np.ndarray, parts: dict[str, np.ndarray],
                seed: int, thumbnail: int, noise: float, pairing: str) -> dict[str, np.ndarray]:
    """The two views of every sample, float32: thumb (n, (28/k)^2), noisy (n, 28, 28)."""
    x = images.astype(np.float32) / (levels - 1)
    n, side = len(x), x.shape[1]
    k = thumbnail
    thumb = x.reshape(n, side // k, k, side // k, k).mean((2, 4)).reshape(n, -1)
    src = partners(labels, parts, seed) if pairing == "class" else np.arange(n)
    rng = np.random.default_rng([seed, 2])
    noisy = x[src] + np.float32(noise) * rng.standard_normal(x.shape, dtype=np.float32)
    return {"thumb": thumb, "noisy": noisy}


@register("fashion")
def load(recipe) -> MultimodalData:
    d = recipe.data
    if 28 % d.thumbnail:
        raise UserError(f"data.thumbnail: expected a divisor of 28 (1, 2, 4, 7, 14), found {d.thumbnail}")
    z = read_asset(asset_path(recipe, FILE))
    labels = z["label"]
    parts = split_parts(labels, z["is_test"], d.val_fraction, d.split_seed)
    views = build_views(z["image"], int(z["levels"]), labels, parts, d.split_seed,
                        d.thumbnail, d.noise, d.pairing)
    arrays: dict[str, torch.Tensor] = {}
    spec: dict[str, dict] = {}
    for m in d.modalities:
        enc = recipe.model.encoders[m]
        x = torch.from_numpy(views[m])
        if enc.kind == "mlp":
            arrays[m] = x.reshape(len(x), -1)
            spec[m] = {"type": "vector", "dim": int(arrays[m].shape[1])}
        elif m == "noisy" and enc.kind in ("cnn", "resnet18"):
            arrays[m] = x.unsqueeze(1)
            spec[m] = {"type": "image", "shape": tuple(arrays[m].shape[1:])}
        else:
            need = "'mlp'" if m == "thumb" else "'mlp', 'cnn' or 'resnet18'"
            raise UserError(f"model.encoders.{m}.kind: the fashion {m} view needs {need}, found {enc.kind!r}")
    train, val, test = make_splits(arrays, labels, parts)
    if d.standardize:
        for m in arrays:
            if spec[m]["type"] == "vector":
                train.inputs[m], val.inputs[m], test.inputs[m] = standardize(
                    train.inputs[m], val.inputs[m], test.inputs[m])
            else:
                mean, std = train.inputs[m].mean(), train.inputs[m].std()
                train.inputs[m], val.inputs[m], test.inputs[m] = (
                    (s - mean) / std for s in (train.inputs[m], val.inputs[m], test.inputs[m]))
    notes = [f"fashion: thumb {28 // d.thumbnail}x{28 // d.thumbnail}, noisy 28x28 of "
             f"{'a same-class partner' if d.pairing == 'class' else 'the item itself'} + N(0, {d.noise}^2); "
             f"{len(train)} train / {len(val)} val / {len(test)} test (Fashion-MNIST's test set)"]
    data = MultimodalData("fashion", tuple(d.modalities), [str(c) for c in z["classes"]],
                          train, val, test, spec)
    data.notes = notes
    return data
