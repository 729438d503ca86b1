"""Checkpoints: one self-describing dict, written atomically, loaded with weights_only=True."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from engine.errors import UserError

FORMAT = 1


def save(state: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint there")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: the user's to fix
        raise UserError(f"{path}: the checkpoint does not load ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path}: not a checkpoint of this project (format {FORMAT} expected)")
    return state
