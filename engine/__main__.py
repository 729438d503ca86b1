"""`python -m engine RECIPE [key=value ...]`: one training run, events as JSON Lines on stdout."""
import os
import signal


def _stopped_early(signum, frame) -> None:  # noqa: ARG001
    """A Ctrl-C (or SIGTERM) while the engine's modules import: nothing was started, so leave
    at once with the cancelled status (an interrupt raised inside an import can otherwise
    surface as another error, or as Python's own death by SIGINT)."""
    os.write(2, b"stopped before the run started: nothing was written\n")
    os._exit(130)


signal.signal(signal.SIGINT, _stopped_early)
signal.signal(signal.SIGTERM, _stopped_early)

from engine.run import main  # noqa: E402  main installs the run's own handlers first of all

raise SystemExit(main())
