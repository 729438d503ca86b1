"""`mfeat`: UCI Multiple Features, 2,000 handwritten digits in six views (fac 216, fou 76,
kar 64, mor 6, pix 240, zer 47 features), 10 classes. Built by assets/build_mfeat.py."""
from __future__ import annotations

import numpy as np
import torch

from engine.data import register
from engine.data.base import MultimodalData, asset_path, make_splits, standardize, stratified_split
from engine.contract.errors import UserError


@register("mfeat")
def load(recipe) -> MultimodalData:
    d = recipe.data
    with np.load(asset_path(recipe, "mfeat.npz")) as z:
        labels = z["label"]
        views = {m: z[m] for m in d.modalities}
    parts = stratified_split(labels, d.val_fraction, d.test_fraction, d.split_seed)
    arrays = {}
    for m, x in views.items():
        enc = recipe.model.encoders[m]
        if enc.kind != "mlp":
            raise UserError(f"model.encoders.{m}.kind: feature vectors need 'mlp', found {enc.kind!r}")
        arrays[m] = torch.from_numpy(x.astype(np.float32))
    train, val, test = make_splits(arrays, labels, parts)
    if d.standardize:
        for m in arrays:
            train.inputs[m], val.inputs[m], test.inputs[m] = standardize(
                train.inputs[m], val.inputs[m], test.inputs[m])
    spec = {m: {"type": "vector", "dim": int(x.shape[1])} for m, x in views.items()}
    return MultimodalData("mfeat", tuple(d.modalities), [str(i) for i in range(10)],
                          train, val, test, spec)
