"""Late fusion of separately trained runs: the class probabilities that each run saved for the
test split (`predictions.npz`, the fused prediction of its best-on-validation weights) averaged
over the runs, then scored like any run.

    python -m engine.ensemble RUN_DIR RUN_DIR [...] [--rule mean|logmean] [--json]
    python -m engine.ensemble GROUP GROUP [...]     # folders of seed runs: paired by seed

A GROUP is a folder holding finished runs of several seeds (what `lfm run --seeds` or one grid
point of `lfm sweep` writes): the runs of the groups are combined seed by seed and the mean and
sample standard deviation over the seeds reported. `mean` averages the probabilities (the usual late-fusion ensemble); `logmean` averages their
logarithms, i.e. multiplies them (the Bayes combination of views that are independent given the
class). Exit status 2, with one message, for a folder without predictions or runs that were
tested on different samples.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import numpy as np

from engine.contract import layout, untrusted
from engine.contract.errors import UserError
from engine.training.metrics import classification_metrics
from engine.contract.outcome import shown

RULES = ("mean", "logmean")
MAX_PREDICTIONS_BYTES = 512 * 1024 ** 2  # a predictions.npz's arrays, uncompressed


def load_predictions(run_dir: Path) -> dict[str, np.ndarray]:
    path = Path(run_dir) / layout.PREDICTIONS
    if not path.is_file():
        hint = ("it is not a run folder" if not layout.is_run(run_dir)
                else "the run did not reach its test (or predates predictions.npz)")
        raise UserError(f"{path} is missing: {hint}")
    problem = npz_problem(path)
    if problem:
        raise UserError(f"{path} is not readable ({problem})")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # an untrusted file: zip and npy errors alike are the user's to fix
        raise UserError(f"{path} is not readable ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    problem = predictions_problem(data)
    if problem:
        raise UserError(f"{path}: {problem} (expected index and label: n integers; fused: n x classes "
                        f"probabilities; modalities: names)")
    return data


def npz_problem(path: Path, max_bytes: int = MAX_PREDICTIONS_BYTES) -> str | None:
    """What makes an .npz unsafe to load, read from its zip directory and each array's header
    without loading an array: more than `max_bytes` uncompressed, an array larger than its
    member, or Python objects (which are never loaded). None where it may be loaded."""
    import zipfile

    try:
        declared = untrusted.zip_size(path)
        if declared > max_bytes:
            return (f"its arrays take {declared} bytes uncompressed, more than the "
                    f"{max_bytes // 1024 ** 2} MiB predictions of a test split may take")
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(fh, max_header_size=10_000)
                    header = fh.tell()
                if dtype.hasobject:
                    return f"{info.filename} holds Python objects, which are never loaded"
                if math.prod(shape) * dtype.itemsize > info.file_size - header:
                    return f"{info.filename} declares an array of shape {shape}, larger than its {info.file_size} bytes"
    except Exception as e:  # not a zip, not .npy members: the user's to fix
        return f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else 'damaged'}"
    return None


def predictions_problem(z: dict) -> str | None:
    """What is wrong with the arrays of a predictions.npz, or None."""
    missing = [k for k in ("index", "label", "fused", "modalities") if k not in z]
    if missing:
        return f"lacks {', '.join(missing)}"
    index, label, fused = z["index"], z["label"], z["fused"]
    n = len(label) if label.ndim == 1 else -1
    if index.ndim != 1 or label.ndim != 1 or index.dtype.kind not in "iu" or label.dtype.kind not in "iu" \
            or len(index) != n or n < 1:
        return "index and label are not two lists of integers of one length"
    if fused.ndim != 2 or fused.shape[0] != n or fused.shape[1] < 2 or fused.dtype.kind != "f":
        return f"fused is not a {n} x classes array of probabilities"
    if not np.isfinite(fused).all() or label.min() < 0 or label.max() >= fused.shape[1]:
        return "fused holds values that are not finite, or a label is not a class"
    if z["modalities"].ndim != 1 or z["modalities"].dtype.kind != "U":
        return "modalities is not a list of names"
    return None


def combine(probs: list[np.ndarray], rule: str = "mean") -> np.ndarray:
    stack = np.stack([p.astype(np.float64) for p in probs])
    if rule == "mean":
        return stack.mean(0)
    if rule == "logmean":
        log = np.log(np.clip(stack, 1e-12, None)).mean(0)
        log -= log.max(1, keepdims=True)
        out = np.exp(log)
        return out / out.sum(1, keepdims=True)
    raise UserError(f"--rule: expected one of {', '.join(RULES)}, found {rule!r}")


def ensemble(run_dirs: list[Path], rule: str = "mean") -> dict:
    """Metrics of each run's fused test prediction and of their combination."""
    if len(run_dirs) < 2:
        raise UserError("an ensemble needs two or more run folders")
    preds = [load_predictions(d) for d in run_dirs]
    first = preds[0]
    for d, p in zip(run_dirs[1:], preds[1:]):
        if not (np.array_equal(p["index"], first["index"]) and np.array_equal(p["label"], first["label"])):
            raise UserError(f"{d} was tested on other samples than {run_dirs[0]} "
                            f"(a different dataset or split); an ensemble needs the same test split")
        if p["fused"].shape != first["fused"].shape:
            raise UserError(f"{d}: {p['fused'].shape[1]} classes, {run_dirs[0]}: {first['fused'].shape[1]}")
    labels, c = first["label"], first["fused"].shape[1]
    members = [{"run": str(d), "modalities": [str(m) for m in p["modalities"]],
                **classification_metrics(p["fused"], labels, c)} for d, p in zip(run_dirs, preds)]
    combined = combine([p["fused"] for p in preds], rule)
    return {"rule": rule, "samples": int(len(labels)), "members": members,
            "ensemble": classification_metrics(combined, labels, c)}


def is_run(path: Path) -> bool:
    return (Path(path) / layout.PREDICTIONS).is_file() or layout.is_run(path)


def seed_runs(group: Path) -> dict[int, Path]:
    """seed -> run folder of the finished runs (summary.json status ok) below a folder."""
    out: dict[int, Path] = {}
    for seed, runs in sorted(layout.finished_runs_by_seed(group).items()):
        if len(runs) > 1:
            raise UserError(f"{group} holds two finished runs of seed {seed} ({runs[0]} and "
                            f"{runs[1]}); give one folder per configuration")
        out[seed] = runs[0]
    if not out:
        raise UserError(f"{group} is neither a run folder nor a folder of finished runs")
    return out


def ensemble_groups(groups: list[Path], rule: str = "mean") -> dict:
    """Ensembles seed by seed over the seeds every group holds; mean and std over seeds."""
    if len(groups) < 2:
        raise UserError("an ensemble needs two or more folders")
    runs = [seed_runs(g) for g in groups]
    seeds = sorted(set.intersection(*(set(r) for r in runs)))
    if not seeds:
        raise UserError("the folders have no seed in common: " + "; ".join(
            f"{g}: seeds {sorted(r)}" for g, r in zip(groups, runs)))
    left_out = sorted(set().union(*(set(r) for r in runs)) - set(seeds))
    per_seed = {s: ensemble([r[s] for r in runs], rule) for s in seeds}

    def stats(values: list[float]) -> dict:
        return {"mean": statistics.mean(values),
                "std": statistics.stdev(values) if len(values) > 1 else None}

    members = [{"group": str(g), "modalities": per_seed[seeds[0]]["members"][i]["modalities"],
                **{k: stats([per_seed[s]["members"][i][k] for s in seeds]) for k in ("acc", "map", "f1")}}
               for i, g in enumerate(groups)]
    return {"rule": rule, "seeds": seeds, "seeds_left_out": left_out, "per_seed": per_seed,
            "members": members,
            "ensemble": {k: stats([per_seed[s]["ensemble"][k] for s in seeds]) for k in ("acc", "map", "f1")}}


def run_or_groups(paths: list[Path], rule: str = "mean") -> dict:
    """Run folders are combined as they are; folders of runs are paired by seed."""
    kinds = {is_run(p) for p in paths}
    if kinds == {True}:
        return ensemble(paths, rule)
    if kinds == {False}:
        return ensemble_groups(paths, rule)
    raise UserError("give either run folders or folders of seed runs, not both: " + ", ".join(
        f"{p} ({'run' if is_run(p) else 'folder of runs'})" for p in paths))


def _ms(v: dict) -> str:
    return f"{v['mean']:6.2f}" + (f" ± {v['std']:.2f}" if v["std"] is not None else "")


def render_groups(result: dict) -> str:
    lines = [f"{'folder':<52} {'modalities':<16} {'ACC':>13} {'MAP':>13} {'F1':>13}"]
    for m in result["members"]:
        lines.append(f"{shown(m['group'])[-52:]:<52} {shown(','.join(m['modalities'])):<16} "
                     + " ".join(f"{_ms(m[k]):>13}" for k in ("acc", "map", "f1")))
    e = result["ensemble"]
    lines.append(f"{'ensemble (' + result['rule'] + ')':<52} {'':<16} "
                 + " ".join(f"{_ms(e[k]):>13}" for k in ("acc", "map", "f1")))
    lines.append(f"mean ± sample std over seeds {', '.join(map(str, result['seeds']))}; ensemble ACC by seed: "
                 + ", ".join(f"{s}: {r['ensemble']['acc']:.2f}" for s, r in result["per_seed"].items()))
    if result["seeds_left_out"]:
        lines.append(f"left out (not in every folder): seeds {', '.join(map(str, result['seeds_left_out']))}")
    return "\n".join(lines)


def render(result: dict) -> str:
    if "per_seed" in result:
        return render_groups(result)
    lines = [f"{'run':<60} {'modalities':<16} {'ACC':>6} {'MAP':>6} {'F1':>6}"]
    for m in result["members"]:
        lines.append(f"{shown(m['run'])[-60:]:<60} {shown(','.join(m['modalities'])):<16} "
                     f"{m['acc']:6.2f} {m['map']:6.2f} {m['f1']:6.2f}")
    e = result["ensemble"]
    lines.append(f"{'ensemble (' + result['rule'] + ')':<60} {'':<16} {e['acc']:6.2f} {e['map']:6.2f} {e['f1']:6.2f}")
    lines.append(f"{result['samples']} test samples")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.ensemble", description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders, or folders of seed runs")
    ap.add_argument("--rule", default="mean", choices=RULES)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    try:
        result = run_or_groups(args.runs, args.rule)
    except UserError as exc:
        print(f"error: {shown(exc)}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
