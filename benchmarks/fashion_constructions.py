"""Screens constructions of the `fashion` benchmark on the symptom alone, before any balancing
method is run (docs/fashion.md, "How the construction was chosen").

For each construction (thumbnail block size, noise std, pairing) it trains, with one seed and
the recipes' model and optimiser (MLP 256 -> 256 per view, SGD lr 0.01 momentum 0.9, batch 256,
20 epochs, the epoch with the best validation accuracy kept): the thumb view alone, the noisy
view alone, and their concatenation. It prints each view alone, the concatenation with each
view's part (its block of the linear classifier plus half the bias), and the late-fusion
ensembles of the two single-view models. A minimal training loop of its own, so that a
construction is screened in about a minute; the views come from engine/data/fashion.py and the
shipped asset, exactly as runs see them.

    python benchmarks/fashion_constructions.py                       # the constructions screened
    python benchmarks/fashion_constructions.py --variant 4,1.0,class --seed 1
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.contract import recipe as recipes  # noqa: E402
from engine.data import fashion  # noqa: E402
from engine.data.base import asset_path  # noqa: E402

VARIANTS = ["4,1.0,item", "4,0.5,class", "4,0.7,class", "4,1.0,class", "4,1.5,class", "7,1.0,class"]


def views(z, thumbnail: int, noise: float, pairing: str, val_fraction=0.1, seed=0):
    labels = z["label"]
    parts = fashion.split_parts(labels, z["is_test"], val_fraction, seed)
    v = fashion.build_views(z["image"], int(z["levels"]), labels, parts, seed, thumbnail, noise, pairing)
    out = {}
    for m, x in v.items():
        x = torch.from_numpy(x.reshape(len(x), -1))
        tr = x[parts["train"]]
        mean, std = tr.mean(0), tr.std(0).clamp_min(1e-6)
        out[m] = {s: (x[idx] - mean) / std for s, idx in parts.items()}
    y = {s: torch.from_numpy(labels[idx]) for s, idx in parts.items()}
    return out, y


def train(mods, X, y, seed, epochs=20):
    torch.manual_seed(seed)
    encs = nn.ModuleDict({m: nn.Sequential(nn.Linear(X[m]["train"].shape[1], 256), nn.ReLU(),
                                           nn.Linear(256, 256)) for m in mods})
    head = nn.Linear(256 * len(mods), 10)
    opt = torch.optim.SGD([*encs.parameters(), *head.parameters()], lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(seed)
    n = len(y["train"])

    @torch.no_grad()
    def evaluate(split):
        zs = [encs[m](X[m][split]) for m in mods]
        out = head(torch.cat(zs, 1))
        res = {"fused": 100 * (out.argmax(1) == y[split]).float().mean().item()}
        for j, m in enumerate(mods if len(mods) > 1 else []):
            w = head.weight[:, 256 * j:256 * (j + 1)]
            res[m] = 100 * ((zs[j] @ w.T + head.bias / len(mods)).argmax(1) == y[split]).float().mean().item()
        return res, out.softmax(1)

    best = (-1.0, None)
    for _ in range(epochs):
        for b in torch.randperm(n, generator=g).split(256):
            loss = F.cross_entropy(head(torch.cat([encs[m](X[m]["train"][b]) for m in mods], 1)), y["train"][b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        val = evaluate("val")[0]["fused"]
        if val > best[0]:
            best = (val, evaluate("test"))
    return best[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variant", action="append", help="THUMBNAIL,NOISE,PAIRING, e.g. 4,1.0,class")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    z = fashion.read_asset(asset_path(recipes.load(Path(__file__).parents[1] / "recipes" / "fashion.toml"),
                                      fashion.FILE))
    print("thumbnail noise pairing | thumb alone | noisy alone | concat (thumb part, noisy part) | "
          "ensemble mean / logmean | seconds")
    for v in a.variant or VARIANTS:
        k, s, pairing = v.split(",")
        t = time.perf_counter()
        X, y = views(z, int(k), float(s), pairing)
        (ra, pa), (rb, pb), (rc, _) = (train(m, X, y, a.seed) for m in (["thumb"], ["noisy"], ["thumb", "noisy"]))
        yt = y["test"]
        ens = 100 * ((pa + pb).argmax(1) == yt).float().mean().item()
        ensl = 100 * ((pa.log() + pb.log()).argmax(1) == yt).float().mean().item()
        print(f"{k:>9} {s:>5} {pairing:>7} | {ra['fused']:11.1f} | {rb['fused']:11.1f} | "
              f"{rc['fused']:5.1f} ({rc['thumb']:4.1f}, {rc['noisy']:4.1f}){'':13} | {ens:5.1f} / {ensl:5.1f}"
              f"{'':7} | {time.perf_counter() - t:5.0f}", flush=True)


if __name__ == "__main__":
    main()
