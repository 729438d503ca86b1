"""`lfm reproduce table5`: CLIP's image and text encoders from local folders (a tiny CLIP built
from a config here, as nothing is downloaded), on the built-in emoji; refused in one line, before
any run folder is made, where the weights or their tokenizer files are absent."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import layouts as L
from conftest import RECIPES, ROOT
from engine.contract import recipe as recipes
from engine.contract.outcome import EXIT_USAGE
from engine.data import load_dataset
from engine.data.disk import CLIP
from lfm_tui.reproduce import paper
from test_reproduce import lfm, report_row, summary_test

ROWS = (("clip", "CLIP"), ("clip-mla", "CLIP+MLA"), ("clip-ours", "CLIP+Ours"))
PARTS = (("image", "Image"), ("text", "Text"), ("fused", "Multiple"))


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    """A CLIP folder as save_pretrained writes it (config, weights, tokenizer files), of a
    two-layer-wide model whose vision tower takes 32x32 images, like emoji's."""
    return L.tiny_clip(tmp_path_factory.mktemp("weights") / "clip")


def clip_paths(folder: Path) -> list[str]:
    return [f"model.encoders.image.path={folder}", f"model.encoders.text.path={folder}"]


def test_emoji_takes_clips_pixel_scale_and_tokenizer(tiny_clip: Path) -> None:
    r = recipes.load(RECIPES / "emoji.toml", ["model.encoders.image.kind=clip_image",
                                                  "model.encoders.text.kind=clip_text", *clip_paths(tiny_clip)])
    d = load_dataset(r)
    assert d.input_spec["image"] == {"type": "image", "shape": (3, 32, 32)}
    assert d.input_spec["text"] == {"type": "hf_tokens", "path": str(tiny_clip), "kind": "clip_text"}
    with np.load(ROOT / "assets" / "emoji.npz") as z:
        raw, names = z["image"][d.test.indices[:3]], [str(t) for t in z["text"][d.test.indices[:3]]]
    inputs, _ = d.test.batch(torch.arange(3))
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in CLIP)
    want = (torch.from_numpy(raw).permute(0, 3, 1, 2).float() / 255 - mean) / std
    assert torch.allclose(inputs["image"], want, atol=1e-5)
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(tiny_clip))
    ids = tok(names, padding="max_length", truncation=True, max_length=r.model.encoders["text"].max_tokens)
    assert inputs["text"][:, 0].tolist() == ids["input_ids"] and inputs["text"][:, 1].tolist() == ids["attention_mask"]
    assert len(set(inputs["text"][:, 0].flatten().tolist())) > 5   # letters, not one unknown id


@pytest.mark.slow
def test_table5_on_emoji_reports_its_runs_beside_the_papers_clip_numbers(tmp_path: Path, tiny_clip: Path) -> None:
    out = tmp_path / "t5"
    res = lfm("reproduce", "table5", "--seeds", "0", "--out", str(out), *clip_paths(tiny_clip), "train.epochs=1",
              "train.threads=1", "review.gap_samples=0", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in (out / "emoji").iterdir()) == ["clip", "clip-mla", "clip-ours"]
    report = (out / "report.md").read_text()
    assert report.startswith("# table5: ")
    assert report_row(report, "row")[:4] == ["ACC fused", "ACC image", "ACC text", "ACC gap"]
    for key, row in ROWS:
        t = summary_test(out / "emoji" / key / "seed-0")
        assert report_row(report, row) == [f"{t['acc']:.2f} (n=1)", f"{t['acc_image']:.2f} (n=1)",
                                           f"{t['acc_text']:.2f} (n=1)",
                                           f"{abs(t['acc_image'] - t['acc_text']):.2f} (n=1)"]
        for part, column in PARTS:
            sarcasm = paper.lookup("table5", row, "sarcasm", "acc", part).value
            twitter = paper.lookup("table5", row, "twitter2015", "acc", part).value
            assert (f"| {row} | {column} | not given (paper {sarcasm:.2f}) | not given (paper {twitter:.2f}) |"
                    in report)
    # every run's encoders are CLIP's towers from the folder given, trained (freeze = false)
    for key, _ in ROWS:
        r = recipes.load(out / "emoji" / key / "seed-0" / "recipe.toml")
        assert [(e.kind, e.path, e.freeze) for e in (r.model.encoders["image"], r.model.encoders["text"])] == [
            ("clip_image", str(tiny_clip), False), ("clip_text", str(tiny_clip), False)]


def test_table5_without_the_weights_is_refused_before_any_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "t5"
    res = lfm("reproduce", "table5", "--seeds", "0", "--out", str(out), cwd=tmp_path, timeout=120)
    assert res.returncode == EXIT_USAGE, res.stdout + res.stderr
    assert res.stderr.strip() == (
        "emoji: model.encoders.image.path: clip_image needs local pretrained weights, and "
        "weights/clip-vit-base-patch32 does not exist; set model.encoders.image.path to a Hugging Face CLIP "
        "folder (config.json, model weights), e.g. clip-vit-base-patch32")
    assert res.stdout == "" and not out.exists()


def test_a_clip_folder_without_tokenizer_files_is_refused_before_any_run_folder(tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "vocab.json").write_text("{}")   # merges.txt missing: not a whole tokenizer
    out = tmp_path / "t5"
    res = lfm("reproduce", "table5", "--seeds", "0", "--out", str(out), *clip_paths(folder), cwd=tmp_path,
              timeout=120)
    assert res.returncode == EXIT_USAGE, res.stdout + res.stderr
    assert res.stderr.strip() == (
        f"emoji: model.encoders.text.path: {folder} holds no tokenizer files (tokenizer.json or vocab.json and "
        f"merges.txt); expected a Hugging Face CLIP folder (config.json, model weights, tokenizer files), "
        f"e.g. clip-vit-base-patch32")
    assert res.stdout == "" and not out.exists()
