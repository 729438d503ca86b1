"""`emoji`: 1,906 emoji, a 32x32 RGB image and the emoji's name, 9 category classes.
Built by assets/build_emoji.py from the emoji-datasource-google npm package."""
from __future__ import annotations

import numpy as np
import torch

from engine.data import register
from engine.data.base import MultimodalData, asset_path, make_splits, stratified_split
from engine.data.text import bow_tokens, minilm_embeddings, minilm_path, minilm_tokens
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
            if enc.kind not in ("cnn", "resnet18"):
                raise UserError(f"{key}.kind: images need 'cnn' or 'resnet18', found {enc.kind!r}")
            x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
            train = x[torch.as_tensor(parts["train"])]
            mean, std = train.mean((0, 2, 3), keepdim=True), train.std((0, 2, 3), keepdim=True)
            arrays[m] = (x - mean) / std
            spec[m] = {"type": "image", "shape": tuple(x.shape[1:])}
        else:  # text
            if enc.kind == "minilm":
                path = minilm_path(enc.path, f"{key}.path")
                if enc.freeze:
                    arrays[m] = minilm_embeddings(texts, path, enc.max_tokens)
                    spec[m] = {"type": "embedding", "dim": arrays[m].shape[1]}
                else:
                    arrays[m] = minilm_tokens(texts, path, enc.max_tokens)
                    spec[m] = {"type": "hf_tokens", "path": str(path)}
            elif enc.kind == "text_bow":
                arrays[m], vocab = bow_tokens(texts, parts["train"], enc.max_tokens, enc.vocab_min_count)
                spec[m] = {"type": "tokens", "vocab": vocab}
            else:
                raise UserError(f"{key}.kind: text needs 'minilm' or 'text_bow', found {enc.kind!r}")
    train, val, test = make_splits(arrays, labels, parts)
    return MultimodalData("emoji", tuple(d.modalities), classes, train, val, test, spec)
