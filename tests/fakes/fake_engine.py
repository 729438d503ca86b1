"""A stand-in engine for client and UI tests.

    python fake_engine.py MODE [EVENTS_JSONL] [DELAY]

replay: writes the events of EVENTS_JSONL with DELAY seconds between them, some stderr text
and a non-JSON stdout line; exits 0 (or 130 if SIGINT arrived, after a cancelled event).
crash: one event, a traceback on stderr, exit 1.
stubborn: ignores SIGINT, replays slowly until killed.
hold: as replay, but after the 12th step event waits (at most 60 s) for SIGINT, so that a stop
  arrives mid-run however loaded the machine is.
newer: an event of a newer protocol version.
garbage: lines that are not events on stdout, then exit 0 without a result.
"""
import json
import signal
import sys
import time

mode = sys.argv[1]
path = sys.argv[2] if len(sys.argv) > 2 else None
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
stopped = False


def on_sigint(*_):
    global stopped
    stopped = True


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


if mode == "crash":
    out({"v": 1, "type": "log", "seq": 0, "time": 0, "level": "info", "message": "starting"})
    sys.stderr.write("Traceback (most recent call last):\n  File \"x.py\", line 1\nRuntimeError: boom\n")
    sys.exit(1)
if mode == "garbage":
    sys.stdout.write("Segmentation fault?\n{not json\n\x00\x01 binary noise\n")
    sys.stdout.flush()
    sys.exit(0)
if mode == "newer":
    out({"v": 99, "type": "step", "seq": 0, "time": 0})
    sys.exit(0)

signal.signal(signal.SIGINT, signal.SIG_IGN if mode == "stubborn" else on_sigint)
sys.stderr.write("engine warming up\n")
sys.stderr.flush()
sys.stdout.write("a stray line that is not JSON\n")
events = [json.loads(l) for l in open(path)] if path else []
for ev in events:
    if stopped:
        out({"v": 1, "type": "run_finished", "seq": 0, "time": 0, "status": "cancelled", "best": None,
             "test": None, "error": None, "traceback": None})
        sys.exit(130)
    out(ev)
    time.sleep(delay)
    if mode == "hold" and ev.get("type") == "step" and ev.get("global_step") == 12:
        waited = 0.0
        while not stopped and waited < 60:
            time.sleep(0.05)
            waited += 0.05
while mode == "stubborn":
    time.sleep(0.1)
sys.exit(0)
