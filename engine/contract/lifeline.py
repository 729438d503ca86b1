"""A child process that does not outlive the process that started it (Linux): the kernel sends
it a signal when its parent dies, even a parent killed with SIGKILL that ran no handler
(prctl PR_SET_PDEATHSIG). Standard library only: `lfm` starts the engine and TensorBoard with
`preexec`, the engine arms itself with `on_parent_death` (under torchrun its parent is torchrun).

The engine takes SIGHUP for "the process that started me is gone": it stops as for SIGINT,
after the current step, with a checkpoint (engine/runtime/process.py)."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from typing import Callable

PR_SET_PDEATHSIG = 1    # <sys/prctl.h>
ENGINE_SIGNAL = signal.SIGHUP  # what an engine gets when its parent dies


def _prctl():
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name, use_errno=True).prctl if name else None
    except (OSError, AttributeError):
        return None


def on_parent_death(sig: int) -> bool:
    """This process gets `sig` when its parent dies; False where the system cannot do that."""
    prctl = _prctl()
    return prctl is not None and prctl(PR_SET_PDEATHSIG, int(sig)) == 0


def preexec(sig: int) -> Callable[[], None] | None:
    """A preexec_fn: the child gets `sig` when the process starting it (this one) dies, and a
    child whose parent died before that took effect exits at once. None off Linux."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig))
        if os.getppid() != parent:
            os._exit(1)

    return arm
