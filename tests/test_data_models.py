"""Built-in datasets, splits and encoders."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.contract import recipe as recipes
from engine.data import load_dataset, stratified_split
from engine.data.base import epoch_batches, steps_per_epoch
from engine.contract.errors import UserError
from engine.models import build_model

from conftest import RECIPES, events_of, run_engine


def emoji(overrides=()):
    return recipes.load(RECIPES / "emoji.toml", list(overrides))


def test_emoji_is_1906_items_9_classes_with_fixed_stratified_splits() -> None:
    d = load_dataset(emoji(["model.encoders.text.kind=text_bow"]))
    assert len(d.train) + len(d.val) + len(d.test) == 1906
    assert d.num_classes == 9 and "Component" not in d.class_names
    assert d.train.inputs["image"].shape[1:] == (3, 32, 32)
    # stratified: every class in every split, proportions within one sample of 15 %
    for split in (d.val, d.test):
        counts = np.bincount(split.labels.numpy(), minlength=9)
        totals = np.bincount(np.concatenate([d.train.labels, d.val.labels, d.test.labels]), minlength=9)
        assert (counts > 0).all()
        assert np.all(np.abs(counts - 0.15 * totals) <= 1)
    again = load_dataset(emoji(["model.encoders.text.kind=text_bow"]))
    assert np.array_equal(again.test.indices, d.test.indices)
    other = load_dataset(emoji(["model.encoders.text.kind=text_bow", "data.split_seed=1"]))
    assert not np.array_equal(other.test.indices, d.test.indices)


@pytest.mark.slow
def test_minilm_frozen_gives_normalised_sentence_embeddings() -> None:
    """In the user's cache, as the suite's other emoji runs use it (computed by the first of them;
    tests/test_headless_output.py computes them into an empty cache and checks what it says)."""
    from engine.data import text

    d = load_dataset(emoji())
    t = d.train.inputs["text"]
    assert t.shape[1] == 384
    assert torch.allclose(t.norm(dim=1), torch.ones(len(t)), atol=1e-4)
    cached = list(text._cache_dir().glob("minilm-*.npy"))  # cached for the next run
    assert any(np.load(f).shape == (1906, 384) for f in cached)
    # similar names sit closer than unrelated ones
    texts = np.load(RECIPES.parent / "assets" / "emoji.npz")["text"].tolist()
    full = torch.cat([d.train.inputs["text"], d.val.inputs["text"], d.test.inputs["text"]])
    order = np.concatenate([d.train.indices, d.val.indices, d.test.indices])
    emb = {texts[i]: full[k] for k, i in enumerate(order)}
    a, b, c = emb["grinning face"], emb["grinning face with smiling eyes"], emb["japanese post office"]
    assert a @ b > a @ c


def test_minilm_path_that_is_not_a_model_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"model.encoders.text.path: .* is not a Hugging Face model folder"):
        load_dataset(emoji([f"model.encoders.text.path={tmp_path}"]))


def test_encoder_kind_that_does_not_fit_the_modality() -> None:
    with pytest.raises(UserError, match=r"model.encoders.image.kind: images need 'cnn', 'resnet18' or 'clip_image'"):
        load_dataset(emoji(["model.encoders.image.kind=mlp"]))


def test_splits_are_deterministic_and_partition() -> None:
    labels = np.repeat(np.arange(4), 25)
    a = stratified_split(labels, 0.2, 0.2, seed=3)
    b = stratified_split(labels, 0.2, 0.2, seed=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert sorted(np.concatenate(list(a.values()))) == list(range(100))
    assert [len(a[k]) for k in ("train", "val", "test")] == [60, 20, 20]


def test_epoch_batches_cover_the_split_once_and_depend_on_epoch() -> None:
    b1 = epoch_batches(103, 10, seed=0, epoch=1)
    assert len(b1) == steps_per_epoch(103, 10) == 11
    assert sorted(torch.cat(b1).tolist()) == list(range(103))
    assert not torch.equal(torch.cat(b1), torch.cat(epoch_batches(103, 10, seed=0, epoch=2)))
    assert steps_per_epoch(101, 10) == 10  # a lone remainder sample is left out


@pytest.mark.parametrize("image_kind,fusion", [("cnn", "concat"), ("resnet18", "sum")])
def test_model_shapes_and_split_head(image_kind: str, fusion: str) -> None:
    r = emoji([f"model.encoders.image.kind={image_kind}", "model.encoders.text.kind=text_bow",
               f"model.fusion={fusion}"])
    d = load_dataset(r)
    model = build_model(r, d).eval()
    inputs, labels = d.train.batch(torch.arange(5))
    out = model(inputs)
    assert out.logits.shape == (5, 9)
    assert out.features["image"].shape == (5, 128) and out.embeddings["text"].shape == (5, 64)
    parts = model.unimodal_logits(out.features)
    # the parts add up to the fused logits, for concat and for sum
    assert torch.allclose(parts["image"] + parts["text"], out.logits, atol=1e-5)


@pytest.mark.slow
def test_short_emoji_run_with_probes(tmp_path: Path) -> None:
    res = run_engine([str(RECIPES / "emoji.toml"), "train.epochs=1", "eval.unimodal=probe",
                      "model.encoders.text.kind=text_bow", "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 0, res.stderr
    evs = events_of(res.stdout)
    test = [e for e in evs if e["type"] == "eval" and e["split"] == "test"][0]
    assert test["unimodal"] == "probe" and set(test["modalities"]) == {"image", "text"}
    assert "probe" in [e for e in evs if e["type"] == "step"][-1]["losses"]
    assert test["samples"] == 287
