"""The share of a run's wall time spent writing TensorBoard (engine/review/sinks.py), and within it drawing
the confusion matrices, measured in one in-process run and printed as ratios.

    python benchmarks/tensorboard_overhead.py                               # mfeat, 10 epochs
    python benchmarks/tensorboard_overhead.py --recipe recipes/emoji.toml --epochs 5

The sink is timed around each event it handles; the confusion pictures around their drawing and
writing. Small datasets show the largest share: an epoch of mfeat trains in a fraction of a
second, while each picture (fused and one per modality, each validation and the test) costs
a few tenths.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", default=str(ROOT / "recipes" / "mfeat.toml"))
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args()

    from engine.contract import recipe as recipes
    from engine.run import EngineRun
    from engine.review.sinks import TensorBoardSink

    spent = {"sink": 0.0, "confusion": 0.0, "pictures": 0}
    call, draw = TensorBoardSink.__call__, TensorBoardSink.confusion_images

    def timed_call(self, ev):
        t = time.perf_counter()
        call(self, ev)
        spent["sink"] += time.perf_counter() - t

    def timed_draw(self, ev, step):
        t = time.perf_counter()
        draw(self, ev, step)
        spent["confusion"] += time.perf_counter() - t
        spent["pictures"] += len(ev.get("confusion") or {})

    TensorBoardSink.__call__, TensorBoardSink.confusion_images = timed_call, timed_draw
    recipe = recipes.load(args.recipe, [f"train.epochs={args.epochs}", "train.threads=1"])
    with tempfile.TemporaryDirectory() as tmp:
        run = EngineRun(recipe, run_dir=Path(tmp) / "run")
        start = time.perf_counter()
        run.setup()
        try:
            code = run.finish(run.train())
        finally:
            run.cleanup()
        wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"the run ended with exit status {code}")
    n = max(spent["pictures"], 1)
    print(f"{Path(args.recipe).name}, {args.epochs} epochs: run {wall:.1f} s, TensorBoard sink {spent['sink']:.1f} s "
          f"({spent['sink'] / wall:.1%}), confusion pictures {spent['confusion']:.1f} s "
          f"({spent['confusion'] / wall:.1%}; {spent['pictures']} pictures, {spent['confusion'] / n:.2f} s each)")


if __name__ == "__main__":
    main()
