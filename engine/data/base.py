"""In-memory multimodal datasets, their deterministic stratified splits, and batching."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.contract.errors import UserError

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def asset_path(recipe, filename: str) -> Path:
    """A built-in dataset file: `data.root` if set, else $LFM_ASSETS, else the repo's assets/."""
    root = Path(recipe.data.root or os.environ.get("LFM_ASSETS") or ASSETS)
    path = root / filename
    if not path.is_file():
        key = "data.root" if recipe.data.root else "the assets folder"
        raise UserError(
            f"dataset {recipe.data.name!r}: {path} is missing (looked in {key}); rebuild it with "
            f"the script in assets/ (see assets/README.md) or set data.root to a folder holding "
            f"{filename}")
    return path


def stratified_split(labels: np.ndarray, val_fraction: float, test_fraction: float,
                     seed: int) -> dict[str, np.ndarray]:
    """Per class: a seeded permutation, the first round(n*test) to test, the next round(n*val)
    to validation, the rest to training. Same labels and seed give the same split."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(len(idx) * test_fraction))
        n_val = int(round(len(idx) * val_fraction))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    return {k: np.sort(np.concatenate(v)) for k, v in parts.items()}


@dataclass
class Split:
    inputs: dict[str, torch.Tensor]
    labels: torch.Tensor
    indices: np.ndarray  # positions in the full dataset

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, idx: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return {m: x[idx] for m, x in self.inputs.items()}, self.labels[idx]


@dataclass
class MultimodalData:
    name: str
    modalities: tuple[str, ...]
    class_names: list[str]
    train: Split
    val: Split
    test: Split
    # modality -> description of its input: {"type": "vector", "dim": n} | {"type": "image",
    # "shape": (c, h, w)} | {"type": "embedding", "dim": n} | {"type": "tokens", ...}
    input_spec: dict[str, dict] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # "sample id: why" of samples left out
    notes: list[str] = field(default_factory=list)    # what loading found or did, for the run's log

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> Split:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    def split_indices(self) -> dict[str, list[int]]:
        return {k: self.split(k).indices.tolist() for k in ("train", "val", "test")}


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches plus the remainder when it holds two or more samples (the matching loss
    needs at least two)."""
    return n // batch_size + (1 if n % batch_size >= 2 else 0)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[torch.Tensor]:
    """The batches of one epoch: a permutation fixed by (seed, epoch), so a resumed run sees the
    same batches as an uninterrupted one."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n, generator=g)
    return [perm[i * batch_size:(i + 1) * batch_size] for i in range(steps_per_epoch(n, batch_size))]


def _as_is(batch):
    return batch


def iter_batches(split, batches: list[torch.Tensor], workers: int = 0, pin_memory: bool = False):
    """(inputs, labels) of each batch in order. In-memory splits index their tensors; a split
    that is a torch Dataset (read from disk) goes through a DataLoader with `workers`
    processes when workers > 0, its batches given as the batch sampler, so the order (and a
    resumed run) is exactly the same either way."""
    if workers > 0 and isinstance(split, torch.utils.data.Dataset) and batches:
        loader = torch.utils.data.DataLoader(split, batch_sampler=[b.tolist() for b in batches],
                                             num_workers=workers, collate_fn=_as_is, pin_memory=pin_memory)
        yield from loader
    else:
        for b in batches:
            yield split.batch(b)


def make_splits(arrays: dict[str, torch.Tensor], labels: np.ndarray, parts: dict[str, np.ndarray]
                ) -> tuple[Split, Split, Split]:
    y = torch.as_tensor(labels, dtype=torch.long)
    out = []
    for name in ("train", "val", "test"):
        idx = torch.as_tensor(parts[name], dtype=torch.long)
        out.append(Split({m: a[idx] for m, a in arrays.items()}, y[idx], parts[name]))
    return tuple(out)


def standardize(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Scale feature vectors by the training split's mean and std (std floored at 1e-6)."""
    mean = train.mean(0, keepdim=True)
    std = train.std(0, keepdim=True).clamp_min(1e-6)
    return [(t - mean) / std for t in (train, *others)]
