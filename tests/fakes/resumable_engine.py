"""A stand-in engine that keeps a run folder the way the engine does, so that it can be stopped
and resumed.

    python resumable_engine.py EVENTS_JSONL DELAY HOLD_AT RECIPE [...] --runs-dir RUNS
    python resumable_engine.py EVENTS_JSONL DELAY HOLD_AT --resume RUN_FOLDER

A new run makes RUNS/mfeat/20261127-092227-0 and writes the recorded events there
(events.jsonl, appended as it goes) and on stdout, DELAY seconds apart. SIGINT stops it after
the next step event: checkpoints/last.pt (here JSON: where to continue), a checkpoint event,
run_finished(cancelled), summary.json, exit 130. A new run waits after the step event of
global step HOLD_AT (0: never) until SIGINT arrives, so that it stops there. `--resume` continues from last.pt with a
run_started carrying `resumed_from`, as the engine does (when HOLD_AT is not 0 it then waits
until the file RUN_FOLDER/release exists, so that a test sees it under way); a finished run
writes summary.json with status ok and exits 0.
"""
import json
import signal
import sys
import time
from pathlib import Path

source, delay, hold_at, args = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
events = [json.loads(line) for line in Path(source).read_text().splitlines()]
stopped = False


def on_sigint(*_):
    global stopped
    stopped = True


signal.signal(signal.SIGINT, on_sigint)
if "--resume" in args:
    run_dir = Path(args[args.index("--resume") + 1])
    at = json.loads((run_dir / "checkpoints" / "last.pt").read_text())
    start = at["index"]
    resumed_from = {"epoch": at["epoch"], "step": at["step"]}
    wait_for_release, hold_at = hold_at != 0, 0
else:
    run_dir = Path(args[args.index("--runs-dir") + 1]) / "mfeat" / "20261127-092227-0"
    (run_dir / "checkpoints").mkdir(parents=True)
    start, resumed_from, wait_for_release = 1, None, False
log = open(run_dir / "events.jsonl", "a")  # noqa: SIM115 - open until the process ends
seq = 0


def out(ev: dict) -> None:
    global seq
    ev = {**ev, "seq": seq, "time": round(time.time(), 3)}
    seq += 1
    for key in ("run_dir", "path"):
        if key in ev:
            ev[key] = str(run_dir / Path(ev[key]).relative_to(events[0]["run_dir"]))
    line = json.dumps(ev) + "\n"
    log.write(line)
    log.flush()
    sys.stdout.write(line)
    sys.stdout.flush()


def summary(status: str, finished: dict) -> None:
    (run_dir / "summary.json").write_text(json.dumps(
        {"status": status, "recipe_name": "mfeat", "method": "lfm", "alpha_strategy": "heuristic",
         "best": finished.get("best"), "test": finished.get("test"), "epochs_done": 4}))


out({**events[0], "resumed_from": resumed_from})
deadline = time.time() + 120
while wait_for_release and not (run_dir / "release").exists() and time.time() < deadline:
    time.sleep(0.01)
for i in range(start, len(events)):
    ev = events[i]
    out(ev)
    waited = 0.0
    while ev["type"] == "step" and ev["global_step"] == hold_at and not stopped and waited < 120:
        time.sleep(0.01)
        waited += 0.01
    if ev["type"] == "step" and stopped and i + 1 < len(events):
        (run_dir / "checkpoints" / "last.pt").write_text(
            json.dumps({"index": i + 1, "epoch": ev["epoch"], "step": ev["step"]}))
        out({"v": 1, "type": "checkpoint", "path": str(Path(events[0]["run_dir"]) / "checkpoints" / "last.pt"),
             "epoch": ev["epoch"], "step": ev["step"], "best": False})
        finished = {"v": 1, "type": "run_finished", "status": "cancelled", "best": None, "test": None,
                    "error": None, "traceback": None, "exit_code": 130}
        out(finished)
        summary("cancelled", finished)
        sys.exit(130)
    time.sleep(delay)
summary("ok", events[-1])
sys.exit(0)
