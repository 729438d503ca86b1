"""The one reducer of an event stream (engine/contract/run_state.py), on recorded streams of real
runs: the state the dashboard, `lfm run`, `lfm sweep --status`, the history and `lfm plot` read.
The numbers are those the reduction gave before it moved into the contract (lfm_tui/state.py)."""
from __future__ import annotations

import json
from pathlib import Path

from engine.contract.events import Eval, Step, parse_line, read_events
from engine.contract.run_state import RunState

FIXTURES = Path(__file__).parent / "fixtures"
MFEAT = FIXTURES / "runs/mfeat/20261127-092227-0/events.jsonl"   # 4 epochs, heuristic alpha, `run_id`
LEARNED = FIXTURES / "events/learned_alpha.jsonl"   # 2 epochs, learned alpha (alpha_updated), `run_name`


def fold(events, **kw) -> RunState:
    state = RunState(**kw)
    for ev in events:
        state.apply(ev)
    return state


def test_a_recorded_run_folds_to_the_state_it_gave_before() -> None:
    s = fold(read_events(str(MFEAT)))
    assert (s.run_name, s.recipe_name, s.dataset, s.modalities) == ("mfeat/20261127-092227-0", "mfeat", "mfeat",
                                                                     ["pix", "mor"])
    assert (s.status, s.exit_code, s.epochs, s.steps_per_epoch) == ("ok", 0, 4, 22)
    assert (s.epoch, s.step, s.global_step, s.alpha) == (4, 22, 88, 0.22119921692859512)
    assert s.alpha_by_epoch == {1: 0.6321205588285577, 2: 0.3934693402873666, 3: 0.28346868942621073,
                                4: 0.22119921692859512}
    assert [r["epoch"] for r in s.val_history] == [1, 2, 3, 4]
    assert [r["fused"]["acc"] for r in s.val_history] == [80.0, 93.33333333333333, 96.0, 96.33333333333334]
    assert (s.best["acc"], s.best["epoch"], s.best_acc) == (96.33333333333334, 4, 96.33333333333334)
    assert (s.test["fused"]["acc"], s.test_acc) == (98.0, 98.0)
    assert {k: (len(v), v[-1]) for k, v in s.losses.items()} == {
        "total": (17, (88, 0.5868977308273315)), "cls": (17, (88, 0.13585548102855682)),
        "mm": (17, (88, 2.1749324798583984))}
    assert (s.started_at, s.finished_at, s.starts) == (1795771347.337, 1795771347.715, 1)
    assert (s.unknown_events, s.malformed_events) == (0, 0)
    assert (s.done_steps, s.total_steps, s.epochs_done, s.progress) == (88, 88, 4, 1.0)


def test_a_learned_alpha_run_keeps_its_hypergradients_and_alpha_curve() -> None:
    s = fold(read_events(str(LEARNED)))
    assert s.run_name.startswith("mfeat/") and (s.status, s.global_step) == ("ok", 44)
    assert s.hypergradient_by_epoch == {1: 0.4808299392461777, 2: 0.16903670877218246}
    assert s.alpha_by_epoch == {1: 0.5, 2: 0.4}
    # each value at the start of its step: steps 5 and 10 of 22 start 4/22 and 9/22 into epoch 1
    assert list(s.alpha_by_progress.items())[:2] == [(0.181818, 0.5), (0.409091, 0.5)]
    assert (s.alpha_by_progress[0.954545], s.alpha_by_progress[1.954545]) == (0.5, 0.4)  # step 22
    assert s.alpha_until == 2.0   # the last step ends the second epoch
    assert (s.best_acc, s.test_acc) == (94.66666666666667, 94.66666666666667)


def test_progress_is_counted_in_steps_and_validated_epochs() -> None:
    events = read_events(str(MFEAT))
    steps = [i for i, e in enumerate(events) if isinstance(e, Step)]
    mid = fold(events[:steps[5] + 1])   # global steps 6, 12, 18, 22 (epoch 1's last), 24, 30: epoch 2, step 8
    assert (mid.epoch, mid.step, mid.epochs_done, mid.status) == (2, 8, 1, "running")
    assert (mid.done_steps, mid.total_steps) == (30, 88) and mid.progress == 30 / 88
    vals = [i for i, e in enumerate(events) if isinstance(e, Eval) and e.split == "val"]
    after_val = fold(events[:vals[1] + 1])
    assert (after_val.epochs_done, after_val.done_steps, after_val.val_acc) == (2, 44, {1: 80.0, 2: 93.33333333333333})
    assert RunState().progress == 0.0


def test_a_light_state_keeps_no_series_and_the_same_numbers() -> None:
    events = read_events(str(MFEAT))
    full, light = fold(events), fold(events, history=0)
    assert {k: len(v) for k, v in light.losses.items()} == {"total": 0, "cls": 0, "mm": 0}
    assert light.alpha_by_progress == {}
    assert (light.status, light.progress, light.best_acc, light.test_acc, light.epochs_done) == \
        (full.status, full.progress, full.best_acc, full.test_acc, full.epochs_done)


def test_a_summary_settles_a_stream_cut_short_but_not_one_resumed_since() -> None:
    lines = MFEAT.read_text().splitlines()
    cut = [parse_line(line) for line in lines[:20]]
    s = fold(cut, history=0)
    started = s.last_started_at
    assert s.status == "running"
    summary = {"status": "ok", "best": {"acc": 96.0, "epoch": 3}, "test": {"acc": 97.5}, "epochs_done": 4}
    s.settle(summary, written=started - 1)   # older than the last start: says nothing of it
    assert s.status == "running"
    s.settle(summary, written=started + 1)
    assert (s.status, s.best_acc, s.test_acc, s.epochs_done, s.epoch, s.step) == ("ok", 96.0, 97.5, 4, 4, 22)
    assert json.loads(lines[0])["run_id"] == "mfeat/20261127-092227-0"  # the fixture uses the older name


def test_preparing_events_before_the_start_keep_the_latest_and_read_as_a_line() -> None:
    """Slow preparation comes as `preparing` events before run_started: the state keeps the
    latest, the plain view and the dashboard's header say it as one line."""
    from engine.contract.run_state import preparing_text

    s = RunState()
    for done in (0, 512, 1906):
        s.apply(parse_line(json.dumps({"v": 1, "type": "preparing", "seq": done, "time": 1.0,
                                       "what": "text embeddings", "done": done, "total": 1906,
                                       "unit": "texts", "cache": "/c/minilm-1.npy"})))
        if done == 512:
            assert preparing_text(s.preparing) == "preparing: text embeddings 512/1906 texts"
    assert s.unknown_events == 0 and s.status == ""
    assert s.preparing == {"what": "text embeddings", "done": 1906, "total": 1906, "unit": "texts",
                           "cache": "/c/minilm-1.npy"}
    start = {"what": "mfcc cache", "done": 0, "total": None, "unit": "files", "cache": "/c/prepared"}
    assert preparing_text(start) == "preparing: mfcc cache 0 files, cached in /c/prepared for the runs after"
    assert preparing_text(None) == ""
