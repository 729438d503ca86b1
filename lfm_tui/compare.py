"""The comparison table (the LFM paper's Table 1): finished runs grouped by configuration (the
resolved recipe without the seed), test metrics as mean and standard deviation over seeds.

Standard library (and the engine's recipe, layout and method registry) only. Only runs whose
summary.json says "ok" enter the table; the others are listed as not finished. A run is known
by its run id (engine/contract/layout.py), not its folder: a copied run folder is the same run, counted
once (`dedupe`; `same_run_notes` says which folders were one run). Runs made before run ids
existed are known by their folder.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from engine.contract import annotations, gaps, layout
from engine.contract import recipe as recipes
from engine.contract import untrusted
from engine.contract import method_registry as registry
from lfm_tui.comparable import refusal

IGNORED_KEYS = ("train.seed", "name", "train.threads")  # threads: how a run was executed (lfm_tui/executors)
FUSED = (("acc", "ACC"), ("map", "MAP"), ("f1", "macro-F1"))


class CompareError(Exception):
    """A folder that holds no run, or a run folder that cannot be read."""


@dataclass
class Run:
    path: Path
    status: str
    seed: int
    config: dict[str, str]
    test: dict | None
    run_id: str | None = None                              # None: made before run ids existed
    tags: list[str] = field(default_factory=list)          # the user's (engine/contract/annotations.py)
    note: str = ""
    copies: list[Path] = field(default_factory=list)       # other folders holding this same run

    @property
    def identity(self) -> str:
        return f"id:{self.run_id}" if self.run_id else f"path:{self.path.resolve()}"


@dataclass
class Row:
    label: str
    config: dict[str, str]
    runs: list[Run]
    modalities: list[str] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        return sorted(r.seed for r in self.runs)

    def values(self, key: str) -> list[float]:
        return [r.test[key] for r in self.runs if r.test and isinstance(r.test.get(key), (int, float))]

    def stat(self, key: str) -> tuple[float, float | None] | None:
        """(mean, sample std); the std is None with a single seed."""
        v = self.values(key)
        if not v:
            return None
        return statistics.fmean(v), (statistics.stdev(v) if len(v) > 1 else None)


def finite(v) -> bool:
    """A number a mean and deviation can take: not a bool, NaN, infinite or past a float."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int past a float's range
        return False


def is_run_folder(path: Path) -> bool:
    """A run folder that got as far as its summary."""
    return layout.is_run(path) and (path / layout.SUMMARY).is_file()


def find_runs(paths: list[Path]) -> list[Path]:
    """Run folders given directly, or found anywhere below the given folders (sweeps)."""
    found: list[Path] = []
    for p in paths:
        if not p.is_dir():
            raise CompareError(f"{p}: no such folder")
        below = [r for r in layout.runs_below(p) if is_run_folder(r)]
        if not below:
            raise CompareError(f"{p}: not a run folder and holds none (a run folder has {layout.RECIPE}, "
                               f"{layout.EVENTS} and {layout.SUMMARY})")
        found.extend(below)
    return list(dict.fromkeys(found))


def flatten(d: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, list):
            out[key] = "[" + ",".join(str(x) for x in v) + "]"
        else:
            out[key] = str(v)
    return out


def load_run(path: Path) -> Run:
    """A run folder as the table sees it. Its files are untrusted: one that cannot be read
    gives a run whose status is `unreadable: why` (listed, left out of the table)."""
    run = _load_run(path)
    run.run_id = layout.read_run_id(path)
    notes = annotations.read(path)
    run.tags, run.note = notes.tags, notes.note
    return run


def _load_run(path: Path) -> Run:
    try:
        summary = untrusted.read_json(path / layout.SUMMARY)
        recipe = untrusted.toml_loads(untrusted.read_text(path / layout.RECIPE))
    except (OSError, ValueError) as exc:  # JSON, TOML and UTF-8 errors are ValueErrors
        return Run(path, f"unreadable: {exc}", 0, {}, None)
    if not isinstance(summary, dict) or not isinstance(summary.get("status"), str):
        return Run(path, f"unreadable: {layout.SUMMARY} is not a run summary", 0, {}, None)
    try:  # resolved against the current schema, so keys added since the run read as their defaults
        recipe = recipes.to_dict(recipes.from_dict(recipe, str(path / layout.RECIPE)))
    except recipes.RecipeError:
        pass  # a recipe of an older or newer schema: compared as written
    seed = (recipe.get("train") or {}).get("seed", 0) if isinstance(recipe.get("train"), dict) else None
    test = summary.get("test")
    if not isinstance(seed, int) or isinstance(seed, bool) or not (test is None or isinstance(test, dict)):
        return Run(path, f"unreadable: {layout.RECIPE} or {layout.SUMMARY} holds values of the wrong type", 0, {},
                   None)
    config = {k: v for k, v in flatten(recipe).items() if k not in IGNORED_KEYS}
    test = {k: float(v) for k, v in (test or {}).items() if finite(v)} if test is not None else None
    return Run(path, summary["status"], seed, config, test)


def resolved_config(recipe: dict, source: str) -> dict[str, str]:
    """A run's recipe as flat `key: value` text, resolved against the current schema so that
    keys added since read as their defaults (one of an older or newer schema: as written)."""
    try:
        recipe = recipes.to_dict(recipes.from_dict(recipe, source))
    except recipes.RecipeError:
        pass
    return flatten(recipe)


def recipe_config(run_dir: Path) -> dict[str, str]:
    """A run folder's recipe.toml, resolved and flat ({} where it cannot be read)."""
    path = Path(run_dir) / layout.RECIPE
    try:
        return resolved_config(untrusted.toml_loads(untrusted.read_text(path)), str(path))
    except (OSError, ValueError):
        return {}


def varying_keys(configs: list[dict[str, str]]) -> list[str]:
    """The keys whose values differ between configurations, sorted."""
    keys = sorted({k for c in configs for k in c})
    return [k for k in keys if len({c[k] for c in configs if k in c}) > 1]


def labels(configs: list[dict[str, str]]) -> list[str]:
    """Each configuration labelled by its method and the keys that differ between them (what
    `lfm compare` names its rows by)."""
    varying = [k for k in varying_keys(configs) if k not in IGNORED_KEYS]
    return [_label(c, varying) for c in configs]


def _label(config: dict[str, str], varying: list[str]) -> str:
    method = config.get("method.name", "lfm")
    info = registry.METHODS.get(method)
    label = info.label(config) if info else method  # a run of a method this version does not know
    rest = [f"{k}={config[k]}" for k in varying
            if k in config and k not in ("method.name", "method.modality") and _applies(k, method, info)]
    return " ".join([label, *rest])


def _applies(key: str, method: str, info) -> bool:
    """Whether a key can matter to a run of `method`: not another method's `method.<name>.*`
    keys, nor `alpha.*` for a method that does not use alpha (concat beside LFM runs is
    labelled "concat", not by the alpha strategy its recipe happens to name)."""
    if key.startswith("alpha.") and info is not None and not info.uses_alpha:
        return False
    parts = key.split(".")
    return not (parts[0] == "method" and len(parts) > 2 and parts[1] != method)


def group(runs: list[Run]) -> list[Row]:
    """Finished runs grouped by configuration, in the order first seen; labels name the method,
    the keys whose values differ between configurations and the tags of the row's runs."""
    groups: dict[tuple, list[Run]] = {}
    for r in runs:
        if r.status == "ok":
            groups.setdefault(tuple(sorted(r.config.items())), []).append(r)
    varying = varying_keys([dict(k) for k in groups])
    rows = []
    order = {m: i for i, m in enumerate(registry.NAMES)}
    for key, members in sorted(groups.items(), key=lambda kv: order.get(dict(kv[0]).get("method.name"), 99)):
        config = dict(key)
        mods = []
        for r in members:
            for k in (r.test or {}):
                if k.startswith("acc_") and k[4:] not in mods:
                    mods.append(k[4:])
        tags = " ".join(f"#{t}" for t in dict.fromkeys(t for r in members for t in r.tags))
        rows.append(Row(" ".join(x for x in (_label(config, varying), tags) if x), config,
                        sorted(members, key=lambda r: r.seed), mods))
    return rows


def columns(rows: list[Row]) -> list[tuple[str, str]]:
    """(key in the test summary, heading): fused metrics, each modality's ACC, the accuracy gap."""
    mods: list[str] = []
    for r in rows:
        mods += [m for m in r.modalities if m not in mods]
    declared: list[str] = []  # the recipes' data.modalities order, where the recipes say it
    for r in rows:
        declared += [m for m in r.config.get("data.modalities", "[]").strip("[]").split(",") if m not in declared]
    mods.sort(key=lambda m: declared.index(m) if m in declared else len(declared))
    return [*FUSED, *((f"acc_{m}", f"ACC {m}") for m in mods), ("gap", gaps.accuracy("test"))]


def cell(row: Row, key: str) -> str:
    if key == "gap" and len(row.modalities) < 2:
        return "-"
    s = row.stat(key)
    if s is None:
        return "-"
    return f"{s[0]:.2f}" if s[1] is None else f"{s[0]:.2f} ± {s[1]:.2f}"


def table_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    cols = columns(rows)
    head = ["method", "seeds", *(h for _, h in cols)]
    body = [[r.label, str(len(r.runs)), *(cell(r, k) for k, _ in cols)] for r in rows]
    return head, body


def dedupe(runs: list[Run]) -> list[Run]:
    """One Run per run: folders holding the same run id (a copied run folder) are counted
    once, as the first of them that finished (the others in its `copies`)."""
    kept: dict[str, Run] = {}
    for r in runs:
        first = kept.get(r.identity)
        if first is None:
            kept[r.identity] = r
        elif first.status != "ok" and r.status == "ok":
            r.copies, first.copies = [first.path, *first.copies], []
            kept[r.identity] = r
        else:
            first.copies.append(r.path)
    return list(kept.values())


def same_run_notes(runs: list[Run]) -> list[str]:
    """A line for each run found in several folders, naming them."""
    return [f"{', '.join(str(p) for p in [r.path, *r.copies])}: the same run (run id {r.run_id}), "
            f"counted once" for r in runs if r.copies]


def compare(paths: list[Path]) -> tuple[list[Row], list[Run]]:
    """The table's rows and every run found (each run once, however many folders hold it);
    CompareError for finished runs of different test sets (lfm_tui/comparable.py)."""
    runs = dedupe([load_run(p) for p in find_runs(paths)])
    problem = refusal([(r.path, r.config) for r in runs if r.status == "ok"])
    if problem:
        raise CompareError(problem)
    return group(runs), runs
