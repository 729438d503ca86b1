"""Which runs can be compared: those tested on the same samples. A run's test set is its dataset
and the test split its run folder recorded (`splits.json`, the indices of each split), or, for a
run folder without a readable one, the recipe keys that make the split (fractions, split seed,
the construction of a built dataset). `lfm compare` and the dashboard's compare refuse runs of
different test sets with one line naming them (a mean over runs of different test samples, or
two rows side by side, would read as a comparison of methods when it is one of data).

Standard library only; splits.json is untrusted: read bounded (engine/contract/untrusted.py).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from engine.contract import layout
from engine.contract import untrusted

SPLITS_MAX_BYTES = 64 * 1024 ** 2  # of splits.json: a million-sample dataset's indices fit
# the recipe keys that choose the test samples, where splits.json cannot tell
SPLIT_KEYS = ("data.val_fraction", "data.test_fraction", "data.split_seed", "data.thumbnail", "data.noise",
              "data.pairing", "data.on_missing")
NAMES_SHOWN = 3  # run folders named for each test set in the refusal


def _test_split(run_dir: Path) -> str | None:
    """A digest of the test split's indices in the run's splits.json, or None where it has none
    that can be read."""
    try:
        data = untrusted.read_json(Path(run_dir) / layout.SPLITS, max_bytes=SPLITS_MAX_BYTES)
    except (OSError, ValueError):
        return None
    test = data.get("test") if isinstance(data, dict) else None
    if not isinstance(test, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in test):
        return None
    return hashlib.sha256(",".join(map(str, sorted(test))).encode()).hexdigest()[:12]


def test_set(run_dir: Path, config: dict[str, str]) -> tuple[str, str]:
    """(dataset, which of its test splits) of a run: `config` is its recipe, flat."""
    dataset = config.get("data.name", "?")
    split = _test_split(run_dir)
    if split is None:
        split = " ".join(f"{k.split('.', 1)[1]}={config[k]}" for k in SPLIT_KEYS if k in config)
    return dataset, split


def refusal(runs: list[tuple[Path, dict[str, str]]]) -> str | None:
    """One line naming the runs of each test set where they are not all one (None where they
    are): `runs` are (run folder, its recipe flat)."""
    sets: dict[tuple[str, str], list[Path]] = {}
    for path, config in runs:
        sets.setdefault(test_set(path, config), []).append(path)
    if len(sets) < 2:
        return None
    several = len({d for d, _ in sets}) < len(sets)  # one dataset split two ways: say which split
    parts = []
    for n, ((dataset, _), paths) in enumerate(sets.items(), 1):
        named = ", ".join(str(p) for p in paths[:NAMES_SHOWN])
        more = f" and {len(paths) - NAMES_SHOWN} more" if len(paths) > NAMES_SHOWN else ""
        parts.append(f"{dataset}{f' (test split {n})' if several else ''}: {named}{more}")
    what = "different test splits" if len({d for d, _ in sets}) == 1 else "different datasets"
    return (f"runs of {what} cannot be compared (their test samples differ): " + "; ".join(parts)
            + "; compare the runs of one test set at a time")

