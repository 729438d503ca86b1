"""Late fusion of separately trained runs: the class probabilities that each run saved for the
test split (`predictions.npz`, the fused prediction of its best-on-validation weights) averaged
over the runs, then scored like any run.

    python -m engine.ensemble RUN_DIR RUN_DIR [...] [--rule mean|logmean] [--json]

`mean` averages the probabilities (the usual late-fusion ensemble); `logmean` averages their
logarithms, i.e. multiplies them (the Bayes combination of views that are independent given the
class). Exit status 2, with one message, for a folder without predictions or runs that were
tested on different samples.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.metrics import classification_metrics

RULES = ("mean", "logmean")


def load_predictions(run_dir: Path) -> dict[str, np.ndarray]:
    path = Path(run_dir) / "predictions.npz"
    if not path.is_file():
        hint = ("it is not a run folder" if not (Path(run_dir) / "events.jsonl").is_file()
                else "the run did not reach its test (or predates predictions.npz)")
        raise UserError(f"{path} is missing: {hint}")
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as e:
        raise UserError(f"{path} is not readable ({e})") from None


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


def render(result: dict) -> str:
    lines = [f"{'run':<60} {'modalities':<16} {'ACC':>6} {'MAP':>6} {'F1':>6}"]
    for m in result["members"]:
        lines.append(f"{m['run'][-60:]:<60} {','.join(m['modalities']):<16} "
                     f"{m['acc']:6.2f} {m['map']:6.2f} {m['f1']:6.2f}")
    e = result["ensemble"]
    lines.append(f"{'ensemble (' + result['rule'] + ')':<60} {'':<16} {e['acc']:6.2f} {e['map']:6.2f} {e['f1']:6.2f}")
    lines.append(f"{result['samples']} test samples")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.ensemble", description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--rule", default="mean", choices=RULES)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)
    try:
        result = ensemble(args.runs, args.rule)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
