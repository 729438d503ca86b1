"""A package of methods installed into a temporary folder the way pip installs one: its modules
copied, and a `*.dist-info` folder whose `entry_points.txt` is written from the package's own
pyproject.toml, so that importlib.metadata finds its `lfm.methods` entry points once the folder
is on PYTHONPATH. Offline and quick; tests/test_method_plugin.py also installs it with pip."""
from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tests" / "fixtures" / "plugin"   # the package of docs/writing-a-method.md


def install(site: Path, source: Path = PLUGIN) -> Path:
    """The package at `source` (a pyproject.toml and its packages) installed into `site`."""
    meta = tomllib.loads((source / "pyproject.toml").read_text())
    project = meta["project"]
    site.mkdir(parents=True, exist_ok=True)
    for package in meta["tool"]["setuptools"]["packages"]:
        shutil.copytree(source / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    write_entry_points(info, project["entry-points"])
    return site


def write_entry_points(info: Path, groups: dict[str, dict[str, str]]) -> None:
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
        for group, points in groups.items()))


def env_with(site: Path) -> dict[str, str]:
    """This environment with `site` first on the module path (before the repository's code)."""
    path = os.pathsep.join(p for p in (str(site), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "COLUMNS": "160", "TERM": "dumb"}
