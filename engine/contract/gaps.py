"""The three gaps a run reports, one name each, and what each was computed on (docs/glossary.md):

    accuracy gap   the spread of the modalities' ACC (max - min, in ACC points) on a split;
                   eval's and summary.json's `gap`
    feature gap    the distance between the modalities' encoder-feature centroids over a whole
                   split; eval's and summary.json's `modality_gap`
    embedding gap  the distance between the modalities' centroids of normalised projection
                   embeddings of a fixed sample of the test split (`[review]`, engine/review/)

Every reader and writer labels them through this module (terminal, dashboard, TensorBoard, lfm
compare). Standard library only.
"""
from __future__ import annotations

ACCURACY, FEATURE, EMBEDDING = "accuracy gap", "feature gap", "embedding gap"
# the wire names of eval's and summary.json's fields -> TensorBoard's tag of each
TAGS = {"gap": "accuracy_gap", "modality_gap": "feature_gap"}
EMBEDDING_TAG = "embedding_gap"


def _n(samples) -> str:
    return f", n={samples}" if isinstance(samples, int) and not isinstance(samples, bool) else ""


def accuracy(split: str | None = None) -> str:
    """`accuracy gap (val, ACC points)`: the label of eval's `gap`."""
    return f"{ACCURACY} ({split + ', ' if split else ''}ACC points)"


def feature(split: str | None = None, samples: int | None = None) -> str:
    """`feature gap (test, encoder features, n=287)`: the label of eval's `modality_gap`."""
    return f"{FEATURE} ({split + ', ' if split else ''}encoder features{_n(samples)})"


def embedding(samples: int | None = None) -> str:
    """`embedding gap (test, projection embeddings, n=120)`: the label of the review's distance."""
    return f"{EMBEDDING} (test, projection embeddings{_n(samples)})"


def accuracy_short() -> str:
    """`accuracy gap (ACC pts)`: in a table whose title names the split (the dashboard's)."""
    return f"{ACCURACY} (ACC pts)"


def feature_short(samples: int | None = None) -> str:
    """`feature gap (n=300)`: in a table whose title names the split (the dashboard's)."""
    return f"{FEATURE} ({_n(samples).removeprefix(', ') or 'encoder features'})"


def tag(name: str) -> str:
    """TensorBoard's name of a metric of eval or summary.json (`gap` -> `accuracy_gap`)."""
    return TAGS.get(name, name)
