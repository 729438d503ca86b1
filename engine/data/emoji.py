"""`emoji`: 1,906 emoji, a 32x32 RGB image and the emoji's name, 9 category classes.
Built by assets/build_emoji.py from the emoji-datasource-google npm package."""
from __future__ import annotations

import numpy as np
import torch

from engine.data import register
from engine.data.base import MultimodalData, asset_path, make_splits, stratified_split
from engine.data.disk import CLIP, text_inputs
from engine.contract.errors import UserError


@register("emoji")
def load(recipe) -> MultimodalData:
    d = recipe.data
    with np.load(asset_path(recipe, "emoji.npz")) as z:
        images, texts, labels = z["image"], [str(t) for t in z["text"]], z["label"]
        classes = [str(c) for c in z["classes"]]
    parts = stratified_split(labels, d.val_fraction, d.test_fraction, d.split_seed)
    arrays: dict[str, torch.Tensor] = {}
    spec: dict[str, dict] = {}
    for m in d.modalities:
        enc = recipe.model.encoders[m]
        key = f"model.encoders.{m}"
        if m == "image":
            if enc.kind not in ("cnn", "resnet18", "clip_image"):
                raise UserError(f"{key}.kind: images need 'cnn', 'resnet18' or 'clip_image', found {enc.kind!r}")
            x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
            if enc.kind == "clip_image":  # the pretrained encoder's own pixel scale
                mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in CLIP)
            else:
                train = x[torch.as_tensor(parts["train"])]
                mean, std = train.mean((0, 2, 3), keepdim=True), train.std((0, 2, 3), keepdim=True)
            arrays[m] = (x - mean) / std
            spec[m] = {"type": "image", "shape": tuple(x.shape[1:])}
        else:  # text: the packaged MiniLM, a word vocabulary, or a pretrained folder (bert, clip_text)
            arrays[m], spec[m] = text_inputs(recipe, m, texts, parts["train"])
    train, val, test = make_splits(arrays, labels, parts)
    return MultimodalData("emoji", tuple(d.modalities), classes, train, val, test, spec)
