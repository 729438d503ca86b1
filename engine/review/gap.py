"""The embedding gap of a trained model (docs/glossary.md; the LFM paper's modality gap, Fig. 2; Liang et
al., NeurIPS 2022): a fixed sample of the test split through the model in evaluation mode, each modality's
L2-normalised embeddings (what the matching loss L_MM compares: the projection heads' outputs,
or the encoder features z^(j) where `model.projection_dim = 0`), the distance between the
modalities' centroids, and a 2-D picture of the clouds (PCA, or UMAP where umap-learn is
installed).

The sample is the same at every call (a generator seeded by the recipe), so pictures of
several epochs compare; it touches neither the model's mode nor the global random state."""
from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from engine.contract.context import RunContext  # noqa: E402
from engine.data.base import iter_batches  # noqa: E402
from engine.contract.errors import UserError  # noqa: E402


def sample_indices(n: int, size: int, seed: int) -> torch.Tensor:
    """`size` positions of a split of `n` samples (all where size >= n), sorted, fixed by seed."""
    if size >= n:
        return torch.arange(n)
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g)[:size].sort().values


@torch.no_grad()
def gap_embeddings(ctx: RunContext, size: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Each modality's L2-normalised matching-loss embeddings of a sample of the test split, and
    the sample's labels; the model is put back in the mode it was in."""
    model, split = ctx.model, ctx.data.test
    idx = sample_indices(len(split), size, ctx.recipe.train.seed)
    bs = ctx.recipe.data.eval_batch_size
    batches = [idx[i:i + bs] for i in range(0, len(idx), bs)]
    was_training = model.training
    model.eval()
    emb: dict[str, list] = {m: [] for m in model.modalities}
    labels = []
    try:
        for inputs, y in iter_batches(split, batches, ctx.recipe.data.workers):
            inputs, _ = ctx.dist.to_device(inputs, y)
            out = model(inputs)
            for m in emb:
                emb[m].append(F.normalize(out.embeddings[m].float(), dim=-1).cpu())
            labels.append(y.cpu())
    finally:
        model.train(was_training)
    return {m: torch.cat(v) for m, v in emb.items()}, torch.cat(labels)


def centroid_distance(emb: dict[str, torch.Tensor]) -> float:
    """Distance between the centroids of the modalities' (normalised) embeddings; the mean over
    pairs for more than two modalities."""
    cents = {m: e.double().mean(0) for m, e in emb.items()}
    dists = [float((cents[a] - cents[b]).norm()) for a, b in itertools.combinations(cents, 2)]
    return float(np.mean(dists)) if dists else 0.0


def project_2d(x: np.ndarray, method: str, seed: int) -> np.ndarray:
    """(n, 2) coordinates of the rows of `x`: PCA (scikit-learn) or UMAP (umap-learn)."""
    if method == "umap":
        try:
            import umap
        except ImportError:
            raise UserError("review.gap_projection: 'umap' needs the umap-learn package, which is not "
                            "installed (pip install umap-learn); or use 'pca'") from None
        return umap.UMAP(n_components=2, random_state=seed).fit_transform(x)
    from sklearn.decomposition import PCA

    if x.shape[0] < 2:
        return np.zeros((x.shape[0], 2))
    xy = PCA(n_components=min(2, x.shape[1]), random_state=seed).fit_transform(x)
    return xy if xy.shape[1] == 2 else np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))


def gap_figure(emb: dict[str, torch.Tensor], labels: torch.Tensor, class_names: list[str], method: str,
               seed: int, title: str) -> plt.Figure:
    """Two panels over the same 2-D projection of every modality's embeddings: coloured by
    modality, with the centroids joined (the gap), and coloured by class; each with its legend
    (the modalities; the modalities' markers and, beside the panel, the classes' colours)."""
    mods = list(emb)
    x = torch.cat([emb[m] for m in mods]).numpy()
    xy = project_2d(x, method, seed)
    n = len(labels)
    which = np.repeat(np.arange(len(mods)), n)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 5), dpi=80)
    palette = plt.get_cmap("tab10")
    cents = []
    for j, m in enumerate(mods):
        pts = xy[which == j]
        left.scatter(pts[:, 0], pts[:, 1], s=8, alpha=0.5, color=palette(j % 10), label=m)
        cents.append(pts.mean(0))
    for a, b in itertools.combinations(range(len(mods)), 2):
        left.plot([cents[a][0], cents[b][0]], [cents[a][1], cents[b][1]], "k--", lw=1.5)
    for j, c in enumerate(cents):
        left.scatter([c[0]], [c[1]], marker="X", s=160, color=palette(j % 10), edgecolors="black", zorder=3)
    dist = centroid_distance(emb)
    left.set_title(f"by modality: centroid distance {dist:.4f}")
    left.legend(loc="best", fontsize=8, title="modality", title_fontsize=8)
    cls = np.tile(labels.numpy(), len(mods))
    cmap = plt.get_cmap("tab20" if len(class_names) > 10 else "tab10")
    markers = "o^sDv<>p*h"
    for j in range(len(mods)):
        sel = which == j
        right.scatter(xy[sel, 0], xy[sel, 1], s=8, alpha=0.6, c=cmap(cls[sel] % cmap.N),
                      marker=markers[j % len(markers)], label=mods[j])
    right.set_title("by class (marker: modality)")
    marks = right.legend(loc="best", fontsize=8, title="modality", title_fontsize=8)
    for handle in marks.legend_handles:  # the marker, not a class's colour
        handle.set_color("grey")
    right.add_artist(marks)  # kept beside the legend of the classes
    swatches = [Line2D([], [], ls="", marker="o", ms=5, color=cmap(c % cmap.N), label=str(name))
                for c, name in enumerate(class_names)]
    right.legend(handles=swatches, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, title="class",
                 title_fontsize=8, ncols=1 if len(swatches) <= 20 else 2, frameon=False, borderaxespad=0.0)
    axis = "PC" if method == "pca" else "UMAP "
    for ax in (left, right):
        ax.set_xlabel(f"{axis}1")
        ax.set_ylabel(f"{axis}2")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def projector_rows(emb: dict[str, torch.Tensor], labels: torch.Tensor, class_names: list[str]
                   ) -> tuple[torch.Tensor, list[list[str]]]:
    """Every modality's embeddings stacked, and each row's (modality, class) metadata."""
    def clean(s: str) -> str:  # the projector's metadata is tab-separated, one row a line
        return " ".join(str(s).split()) or "?"

    mat = torch.cat([emb[m] for m in emb])
    meta = [[clean(m), clean(class_names[int(y)])] for m in emb for y in labels]
    return mat, meta
