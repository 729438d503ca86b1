"""Does the dashboard slow training? The same recipe and seed, run headless (the engine read by
EngineClient, as `lfm run` does) and under the dashboard driven headless by Textual's test
harness, alternating, in one process. Prints each wall time, the engine's own training time
(run_started to run_finished), the CPU time of this process (the client reading the engine, or the
dashboard following it; the engine is a subprocess), and the ratios dashboard / headless (target:
at most 1.03).
Also the time `lfm-tui` takes to show its first screen (target: under a second) without torch.

    python benchmarks/dashboard_overhead.py [--epochs 30] [--repeats 2]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.contract.events import Event  # noqa: E402
from lfm_tui.client import EngineClient, Exited  # noqa: E402

RECIPE = ROOT / "recipes" / "mfeat.toml"


def overrides(epochs: int) -> list[str]:
    return [f"train.epochs={epochs}", "train.seed=0", "train.log_every=2", "train.threads=1"]


def train_seconds(events: list[Event]) -> float:
    start = next(e.time for e in events if e.type == "run_started")
    end = next(e.time for e in events if e.type == "run_finished")
    return end - start


async def headless(epochs: int, runs: Path) -> tuple[float, float, float]:
    client = EngineClient([str(RECIPE), *overrides(epochs), "--runs-dir", str(runs)])
    t0, c0 = time.perf_counter(), time.process_time()
    events, code = [], None
    async for item in client.events():
        if isinstance(item, Event):
            events.append(item)
        elif isinstance(item, Exited):
            code = item.code
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert code == 0, f"headless run exited with {code}"
    return wall, train_seconds(events), cpu


async def dashboard(epochs: int, runs: Path) -> tuple[float, float, float]:
    from engine.contract.events import read_events
    from lfm_tui.app import make_app

    app = make_app(ROOT / "recipes", runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        t0, c0 = time.perf_counter(), time.process_time()
        s = app.launch_recipe(RECIPE, overrides(epochs))
        while s.live:
            await asyncio.sleep(0.05)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert s.status == "ok", f"dashboard run ended {s.status}: {s.error}"
        assert type(app.screen).__name__ == "RunScreen"
    return wall, train_seconds(read_events(str(Path(s.state.run_dir) / "events.jsonl"))), cpu


STARTUP = """
import sys, time, asyncio
from lfm_tui.app import make_app
from lfm_tui.screens.recipes import RecipesScreen
async def main():
    app = make_app({recipes!r}, {runs!r})
    async with app.run_test(size=(120, 40)) as pilot:
        while not (isinstance(app.screen, RecipesScreen) and app.screen.recipes):
            await pilot.pause(0.01)
        print("torch" in sys.modules, flush=True)
asyncio.run(main())
"""


def startup_seconds(runs: Path) -> tuple[float, bool]:
    code = STARTUP.format(recipes=str(ROOT / "recipes"), runs=str(runs))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    first = time.perf_counter() - t0
    proc.wait()
    return first, line.strip() == "True"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    print(f"recipe {RECIPE.name} {' '.join(overrides(args.epochs))}, {args.repeats} runs each, alternating")
    walls: dict[str, list[float]] = {"headless": [], "dashboard": []}
    trains: dict[str, list[float]] = {"headless": [], "dashboard": []}
    cpus: dict[str, list[float]] = {"headless": [], "dashboard": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for name, fn in (("headless", headless), ("dashboard", dashboard)):
                wall, train, cpu = asyncio.run(fn(args.epochs, Path(tmp) / f"{name}-{i}"))
                walls[name].append(wall)
                trains[name].append(train)
                cpus[name].append(cpu)
                print(f"  {name:9s} run {i + 1}: wall {wall:6.2f} s   training {train:6.2f} s   CPU {cpu:6.2f} s",
                      flush=True)
        starts = [startup_seconds(Path(tmp)) for _ in range(3)]
    for label, d in (("wall", walls), ("training", trains)):
        h, b = statistics.median(d["headless"]), statistics.median(d["dashboard"])
        print(f"{label:8s} median: headless {h:6.2f} s  dashboard {b:6.2f} s  ratio {b / h:.3f}"
              f"  (total ratio {sum(d['dashboard']) / sum(d['headless']):.3f}; target <= 1.03)")
    print(f"CPU of this process, median: headless {statistics.median(cpus['headless']):6.2f} s  "
          f"dashboard {statistics.median(cpus['dashboard']):6.2f} s")
    first = [s for s, _ in starts]
    print(f"first screen: {', '.join(f'{s:.2f}' for s in first)} s (median {statistics.median(first):.2f}; "
          f"target < 1 s); torch imported: {any(t for _, t in starts)}")


if __name__ == "__main__":
    main()
