"""How much the dashboard reads of the files under the runs folder, all read in workers off its
event loop (each file also bounded by engine/contract/untrusted.py)."""
from __future__ import annotations

HISTORY_MAX_RUNS = 2_000                 # runs the history lists: the newest by folder mtime
HISTORY_EVENTS_HEAD_BYTES = 256 * 1024   # of a run's events.jsonl: its start (the recipe it ran)
HISTORY_EVENTS_TAIL_BYTES = 4 * 1024 ** 2  # and its end (status, best, how long it ran)
REPLAY_MAX_BYTES = 64 * 1024 ** 2        # of events.jsonl replayed into the run screen; the rest is cut
RECIPES_MAX = 1_000                      # recipe files the recipes screen lists (by name)
INDEX_MAX_DEPTH = 6                      # folder levels below the runs folder walked for runs (a sweep's: 4)
INDEX_MAX_FOLDERS = 100_000              # folders the walk looks into before it stops
