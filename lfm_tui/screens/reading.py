"""Reading in workers: the dashboard reads folders and files in thread workers whose group ends
in `-read`, each posting its result back as a message the screen applies. A read that raises is
said in a notification, and the dashboard goes on."""
from __future__ import annotations

from textual.worker import Worker, WorkerState

READ_GROUP_SUFFIX = "-read"


def read_failed(app, event: Worker.StateChanged) -> bool:
    """Whether `event` is a read that raised (then said, and keys held for it let go)."""
    if event.state != WorkerState.ERROR or not event.worker.group.endswith(READ_GROUP_SUFFIX):
        return False
    err = event.worker.error
    app.screen.notify(f"reading failed: {type(err).__name__}: {err}", severity="error", markup=False)
    app.first_screen_ready()  # keys held for the recipes list go on without it
    return True


class ReadsInWorkers:
    """A Screen mixin: its reads' failures said (a worker's state reaches only its own node)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        read_failed(self.app, event)  # type: ignore[attr-defined]
