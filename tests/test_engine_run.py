"""End-to-end engine runs on the built-in mfeat data: recorded numbers, resume, TensorBoard,
the run folder, and bad input."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import events_of, only_run_dir, run_engine, train_in_process

# Losses logged by the seeded two-epoch run of tests/conftest.py's tiny_mfeat recipe
# (global step: total, cls, mm), recorded from the engine on the CPU with one thread.
RECORDED = {
    5: (3.1078758239746094, 2.2218174934387207, 3.6235413551330566),
    20: (2.7875545024871826, 1.869415521621704, 3.321889877319336),
    22: (2.4831149578094482, 1.7742366790771484, 2.8956656455993652),
    44: (1.5943890810012817, 0.9572440385818481, 2.5765445232391357),
}


def test_seeded_two_epoch_run_logs_the_recorded_losses(tiny_mfeat: Path, tmp_path: Path) -> None:
    res = run_engine([str(tiny_mfeat), "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 0, res.stderr
    steps = {e["global_step"]: e for e in events_of(res.stdout) if e["type"] == "step"}
    for gs, (total, cls, mm) in RECORDED.items():
        got = steps[gs]["losses"]
        assert got["total"] == pytest.approx(total, rel=1e-5)
        assert got["cls"] == pytest.approx(cls, rel=1e-5)
        assert got["mm"] == pytest.approx(mm, rel=1e-5)
    # heuristic alpha: 1 - exp(-1/t)
    assert steps[5]["alpha"] == pytest.approx(0.6321205588)
    assert steps[44]["alpha"] == pytest.approx(0.3934693403)


# The epoch lines of the same run: mean training losses over the epoch (total, cls, mm).
RECORDED_EPOCHS = {1: "train loss 2.9239 (cls 2.0587, mm 3.4275)", 2: "train loss 1.8714 (cls 1.3662, mm 2.6501)"}


@pytest.mark.slow
def test_seeded_two_epoch_run_logs_the_recorded_epoch_means(tiny_mfeat: Path, tmp_path: Path) -> None:
    """The epoch's loss sums are kept on the device and read once per epoch: the numbers are
    those the engine logged when it read every step's losses to the host."""
    res = run_engine([str(tiny_mfeat), "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 0, res.stderr
    lines = {int(m.group(1)): m.group(2) for e in events_of(res.stdout) if e["type"] == "log"
             for m in [re.match(r"epoch (\d+): (train loss [^,]+, mm [^)]+\))", e["message"])] if m}
    assert lines == RECORDED_EPOCHS


@pytest.mark.slow
def test_run_folder_stream_and_tensorboard_tags(tiny_mfeat: Path, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from engine.contract import layout
    res = run_engine([str(tiny_mfeat), "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 0, res.stderr
    run = only_run_dir(tmp_path / "runs" / "tiny_mfeat")
    for name in ("recipe.toml", "events.jsonl", "engine.log", "splits.json", "summary.json",
                 "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (run / name).is_file(), name
    # stdout carries only events, identical to events.jsonl
    assert all(line.startswith('{"v":1,') for line in res.stdout.splitlines())
    assert (run / "events.jsonl").read_text() == res.stdout
    evs = events_of(res.stdout)
    types = [e["type"] for e in evs]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert [e["seq"] for e in evs] == list(range(len(evs)))
    assert types.count("eval") == 3  # val x 2 epochs, test once
    splits = json.loads((run / "splits.json").read_text())
    assert sorted(splits["train"] + splits["val"] + splits["test"]) == list(range(2000))

    acc = EventAccumulator(str(layout.tensorboard_dir(run)))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    expected = {"train/loss_total", "train/loss_cls", "train/loss_mm", "train/alpha", "train/lr",
                "val/acc", "val/map", "val/f1", "val/loss", "val/acc_pix", "val/acc_mor", "val/accuracy_gap",
                "val/feature_gap", "test/acc", "test/acc_mor", "test/accuracy_gap"}
    assert expected <= tags, expected - tags
    assert len(acc.Scalars("val/acc")) == 2
    assert "_hparams_/session_start_info" in acc.Tags()["tensors"] or \
        any("hparams" in t for t in acc.summary_metadata)


def _stop_during_epoch_2(cmd: list[str], cwd: Path) -> tuple[int, list[dict]]:
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    events, sent = [], False
    for line in proc.stdout:
        ev = json.loads(line)
        events.append(ev)
        if not sent and ev["type"] == "step" and ev["epoch"] == 2:
            proc.send_signal(signal.SIGINT)
            sent = True
    return proc.wait(timeout=120), events


@pytest.mark.slow
def test_sigint_checkpoints_and_resume_equals_uninterrupted(tiny_mfeat: Path, tmp_path: Path) -> None:
    args = ["train.epochs=3", "train.log_every=1", "data.batch_size=8"]
    full = run_engine([str(tiny_mfeat), *args, "--runs-dir", str(tmp_path / "full")], tmp_path)
    assert full.returncode == 0, full.stderr
    full_events = events_of(full.stdout)

    code, first = _stop_during_epoch_2(
        [sys.executable, "-m", "engine", str(tiny_mfeat), *args, "--runs-dir", str(tmp_path / "cut")],
        tmp_path)
    assert code == 130
    assert first[-1]["type"] == "run_finished" and first[-1]["status"] == "cancelled"
    assert first[-2]["type"] == "checkpoint" and first[-2]["epoch"] == 2
    stopped_at = first[-2]["step"]
    run = only_run_dir(tmp_path / "cut")

    resumed = run_engine(["--resume", str(run)], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    second = events_of(resumed.stdout)
    assert second[0]["resumed_from"] == {"epoch": 2, "step": stopped_at}

    def steps(evs):
        return {e["global_step"]: e["losses"] for e in evs if e["type"] == "step"}

    s_full, s_cut = steps(full_events), {**steps(first), **steps(second)}
    assert s_cut.keys() == s_full.keys()
    for gs in s_full:
        assert s_cut[gs] == pytest.approx(s_full[gs], rel=1e-6), gs
    assert second[-1]["test"] == pytest.approx(full_events[-1]["test"], rel=1e-6)
    # the stream in the run folder holds both halves
    assert (run / "events.jsonl").read_text().count('"run_started"') == 2


def test_stop_exactly_after_epoch_1_then_resume(tmp_path: Path, tiny_mfeat: Path) -> None:
    """In-process: stop requested while epoch 1 is evaluated, so the run stops at the boundary."""
    from engine.contract import recipe as recipes
    from engine.run import check_run_dir

    def train(run_dir: Path, resume_state=None, stop_after=None):
        return train_in_process(run_dir, recipes.load(tiny_mfeat, ["train.epochs=3"]), resume_state, stop_after)

    code_full, full = train(tmp_path / "full")
    code_cut, cut = train(tmp_path / "cut", stop_after=1)
    assert (code_full, code_cut) == (0, 130)
    assert cut["status"] == "cancelled" and cut["epochs_done"] == 1
    _, state = check_run_dir(tmp_path / "cut")
    assert (state["epoch"], state["step_in_epoch"]) == (2, 0)
    code_res, res = train(tmp_path / "cut", resume_state=state)
    assert code_res == 0
    assert res["test"] == pytest.approx(full["test"], rel=1e-6)
    assert res["best"] == pytest.approx(full["best"], rel=1e-6)


def test_missing_asset_fails_clearly_without_a_run_folder(tiny_mfeat: Path, tmp_path: Path) -> None:
    res = run_engine([str(tiny_mfeat), f"data.root={tmp_path / 'nowhere'}", "--runs-dir",
                      str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 2
    assert "mfeat.npz is missing" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "runs").exists()
    assert res.stdout == ""


def test_invalid_recipe_in_the_engine(tiny_mfeat: Path, tmp_path: Path) -> None:
    res = run_engine([str(tiny_mfeat), "train.epochs=zero", "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert res.returncode == 2 and "train.epochs: expected an integer" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_resume_refuses_bad_folders_and_checkpoints(tiny_mfeat: Path, tmp_path: Path) -> None:
    res = run_engine(["--resume", str(tmp_path)], tmp_path)
    assert res.returncode == 2 and "not a run folder" in res.stderr and "Traceback" not in res.stderr

    ok = run_engine([str(tiny_mfeat), "--runs-dir", str(tmp_path / "runs")], tmp_path)
    run = only_run_dir(tmp_path / "runs")
    res = run_engine(["--resume", str(run)], tmp_path)
    assert res.returncode == 2 and "already finished" in res.stderr

    (run / "summary.json").unlink()
    last = run / "checkpoints" / "last.pt"
    before = (run / "events.jsonl").read_text()
    last.write_bytes(last.read_bytes()[:100])
    res = run_engine(["--resume", str(run)], tmp_path)
    assert res.returncode == 2 and "does not load" in res.stderr and "Traceback" not in res.stderr
    assert (run / "events.jsonl").read_text() == before  # nothing written over
    assert ok.returncode == 0
