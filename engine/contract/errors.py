"""Errors that are the user's to fix: shown as one clear message, never as a traceback."""


class UserError(Exception):
    """A problem with the user's input (recipe, data, run folder, checkpoint)."""


class Diverged(Exception):
    """Training diverged: the model's outputs are no longer finite. A failed run (exit status 1)
    reported in one message, not a traceback."""
