"""Where pretrained weights come from: local files only. The checks of a configured path are
shared by the data layer (tokenisers) and the models (encoders); standard library only."""
from __future__ import annotations

from pathlib import Path

from engine.contract.errors import UserError

WHAT = {
    "bert": "a Hugging Face BERT folder (config.json, model weights, vocab.txt), e.g. bert-base-uncased",
    "clip_text": "a Hugging Face CLIP folder (config.json, model weights, tokenizer files), e.g. clip-vit-base-patch32",
    "clip_image": "a Hugging Face CLIP folder (config.json, model weights), e.g. clip-vit-base-patch32",
    "resnet50": "a torchvision ResNet50 state dict file (e.g. resnet50-11ad3fa6.pth) or a Hugging Face "
                "ResNet folder (e.g. microsoft/resnet-50)",
}
# the files a text encoder's tokenizer is built from: one of the groups, whole (without them
# transformers builds an empty tokenizer that maps every word to one unknown id)
TOKENIZER_FILES = {"bert": (("tokenizer.json",), ("vocab.txt",)),
                   "clip_text": (("tokenizer.json",), ("vocab.json", "merges.txt"))}


def _missing(key: str, kind: str, detail: str) -> UserError:
    return UserError(f"{key}: {kind} needs local pretrained weights, {detail}; set {key} to {WHAT[kind]}")


def hf_folder(configured: str, key: str, kind: str) -> Path:
    if not configured:
        raise _missing(key, kind, "and it is empty")
    path = Path(configured).expanduser()
    if not path.exists():
        raise _missing(key, kind, f"and {path} does not exist")
    if not (path / "config.json").is_file():
        raise UserError(f"{key}: {path} is not a Hugging Face model folder (no config.json); expected {WHAT[kind]}")
    groups = TOKENIZER_FILES.get(kind, ())
    if groups and not any(all((path / f).is_file() for f in group) for group in groups):
        files = " or ".join(" and ".join(group) for group in groups)
        raise UserError(f"{key}: {path} holds no tokenizer files ({files}); expected {WHAT[kind]}")
    return path
