"""Errors that are the user's to fix: shown as one clear message, never as a traceback."""


class UserError(Exception):
    """A problem with the user's input (recipe, data, run folder, checkpoint)."""
