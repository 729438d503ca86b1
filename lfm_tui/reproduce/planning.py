"""A reproduction's plan: an experiment (experiments.py) on the datasets given (`--data
NAME=PATH`, or the built-in datasets), the seeds and the user's overrides, as one sweep per
(dataset, arm) in `OUT/<dataset>/<arm>/`, each an ordinary sweep folder (`lfm sweep --resume`,
`lfm compare`, `lfm plot` and the dashboard read it). OUT/reproduce.json records what was asked,
so that the same command again, or `lfm reproduce --resume OUT`, continues it.

Bad input (an unknown experiment or dataset, a dataset folder without the dataset's annotation
files, a recipe that does not validate) is a UserError of one line.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.contract import data_folders, layout, schema, untrusted, weights, writes
from engine.contract import recipe as recipes
from engine.contract.errors import UserError
from lfm_tui import plan as plans
from lfm_tui.reproduce import paper
from lfm_tui.reproduce.experiments import BUILTIN_DATASETS, EXPERIMENTS, PAPER_DATASETS, Arm, Experiment

RECIPES = Path(__file__).resolve().parents[2] / "recipes"   # the shipped recipes: the paper's settings
MANIFEST = "reproduce.json"
# the built-in datasets an experiment runs on (default: all); fig4: the one with a convolutional encoder
BUILTIN_FOR = {"table5": ("emoji",), "fig4": ("emoji",)}


@dataclass(frozen=True)
class Sweep:
    dataset: str
    arm: Arm
    recipe: Path
    overrides: tuple[str, ...]      # data.root, the experiment's, the arm's, then the user's
    folder: Path                    # OUT/<dataset>/<arm.key>
    epochs: int                     # of each run, as the resolved recipe says


@dataclass
class Reproduction:
    experiment: Experiment
    data: dict[str, str]            # dataset -> its folder ("" for a built-in one), in the order given
    seeds: list[int]
    overrides: list[str]
    out: Path
    command: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)   # the arms asked for (their keys); empty: all
    sweeps: list[Sweep] = field(default_factory=list)

    def manifest(self) -> dict:
        return {"experiment": self.experiment.name, "data": self.data, "seeds": self.seeds,
                "overrides": self.overrides, "rows": self.rows, "command": self.command,
                "created": time.strftime("%Y-%m-%d %H:%M:%S")}

    def same_request(self, other: dict) -> bool:
        return all(other.get(k, [] if k == "rows" else None) == v
                   for k, v in self.manifest().items() if k not in ("command", "created"))


def experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise UserError(f"EXPERIMENT: expected one of {', '.join(EXPERIMENTS)}, found {name!r}")
    return EXPERIMENTS[name]


def parse_data(items: list[str], exp: Experiment) -> dict[str, str]:
    """`--data NAME=PATH` (a dataset of the paper in its community layout) or `--data NAME` (a
    built-in one); none: the built-in datasets the experiment runs on."""
    if not items:
        return {d: "" for d in BUILTIN_FOR.get(exp.name, tuple(BUILTIN_DATASETS))}
    out: dict[str, str] = {}
    for item in items:
        name, sep, path = (s.strip() for s in item.partition("="))
        if name in out:
            raise UserError(f"--data {item!r}: {name} is given twice")
        if name in BUILTIN_DATASETS:
            if sep:
                raise UserError(f"--data {item!r}: {name} is built in and takes no folder (--data {name})")
            out[name] = ""
        elif name in PAPER_DATASETS:
            if not path:
                raise UserError(f"--data {item!r}: give the dataset's folder, e.g. --data {name}=data/{name}")
            why = data_folders.missing_data(name, path)
            if why:
                raise UserError(f"--data {item!r}: {why.removeprefix('data.root: ')} "
                                f"(expected {data_folders.LAYOUTS[name]})")
            out[name] = str(Path(path).expanduser())
        else:
            raise UserError(f"--data {item!r}: expected NAME=PATH with NAME one of {', '.join(PAPER_DATASETS)}, "
                            f"or one of the built-in {', '.join(BUILTIN_DATASETS)}")
    return out


def recipe_of(dataset: str) -> Path:
    path = RECIPES / f"{dataset}.toml"
    if not path.is_file():
        raise UserError(f"{path}: the shipped recipe of {dataset} is missing (lfm reproduce reads the recipes "
                        "folder beside the installed package)")
    return path


def arms_on(exp: Experiment, dataset: str, modalities: list[str]) -> list[tuple[Arm, tuple[str, ...]]]:
    """The experiment's arms on a dataset, each with its overrides there: on a dataset of the
    paper's table, the rows the paper reports on it (two-modality methods are left out on
    NVGesture, as the paper does); a unimodal arm only up to the dataset's modality count."""
    out = []
    for arm in exp.arms:
        table = arm.table or exp.table
        given = paper.cells(table, arm.row, dataset) if table else []
        if table and dataset in exp.datasets and not given:
            continue
        if arm.unimodal > len(modalities):
            continue
        out.append((arm, arm.sees(modalities, next((n.modality for n in given if n.modality), ""))))
    return out


def parse_rows(text: str, exp: Experiment) -> list[str]:
    """`--rows ours-h,ours-lb`: some of the experiment's arms, by key."""
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in {a.key for a in exp.arms}]
    if unknown or not keys:
        raise UserError(f"--rows {text!r}: expected some of {', '.join(a.key for a in exp.arms)}")
    return list(dict.fromkeys(keys))


def build(exp: Experiment, data: dict[str, str], seeds: list[int], overrides: list[str], out: Path,
          command: list[str], rows: list[str] | None = None) -> Reproduction:
    """The reproduction's sweeps (only the arms of `rows` where given), every run validated
    against its recipe (UserError naming the first that is not valid)."""
    rep = Reproduction(exp, data, seeds, overrides, out, command, list(rows or []))
    for dataset, root in data.items():
        recipe = recipe_of(dataset)
        base = ((f"data.root={root}",) if root else ()) + exp.overrides
        try:
            resolved = recipes.load(recipe, [*base, *overrides])
        except recipes.RecipeError as exc:
            raise UserError(f"{dataset}: {exc.render()}") from None
        modalities = list(resolved.data.modalities)
        base += gradcam_epochs(exp, dataset, resolved)
        for arm, arm_overrides in arms_on(exp, dataset, modalities):
            if rep.rows and arm.key not in rep.rows:
                continue
            ovr = (*base, *arm_overrides, *overrides)
            try:
                planned = plans.validated(recipe, list(ovr), [], seeds)
            except recipes.RecipeError as exc:
                raise UserError(f"{dataset} {arm.row}: {exc.render()}") from None
            check_weights(dataset, planned[0].config, modalities)
            epochs = int(planned[0].config.get("train.epochs", "0") or 0)
            rep.sweeps.append(Sweep(dataset, arm, recipe, ovr, out / dataset / arm.key, epochs))
    if not rep.sweeps:
        raise UserError(f"{exp.name}: no run to make on {', '.join(data)}")
    return rep


def gradcam_epochs(exp: Experiment, dataset: str, resolved) -> tuple[str, ...]:
    """The experiment's Grad-CAM epochs as an override, those within the run's epochs (the last
    always); UserError where no encoder of the dataset is convolutional."""
    if not exp.gradcam_epochs:
        return ()
    kinds = {m: resolved.model.encoders[m].kind for m in resolved.data.modalities}
    if not any(k in schema.CONV_KINDS for k in kinds.values()):
        raise UserError(f"{exp.name}: {dataset} has no convolutional encoder "
                        f"({', '.join(f'{m}: {k}' for m, k in kinds.items())}); Grad-CAM shows the encoders "
                        f"{', '.join(schema.CONV_KINDS)}: give emoji or a dataset of the paper")
    last = resolved.train.epochs
    epochs = [e for e in exp.gradcam_epochs if e == -1 or e < last] or [-1]
    return (f"review.gradcam_epochs=[{','.join(map(str, epochs))}]",)


def check_weights(dataset: str, config: dict[str, str], modalities: list[str]) -> None:
    """The pretrained weights the encoders name are here (before hours of runs fail on them)."""
    for m in modalities:
        key = f"model.encoders.{m}.path"
        kind, path = config.get(f"model.encoders.{m}.kind", ""), config.get(key, "")
        try:
            if kind in ("bert", "clip_image", "clip_text"):
                weights.hf_folder(path, key, kind)
            elif kind == "resnet50" and path and not Path(path).expanduser().exists():
                raise UserError(f"{key}: {path} does not exist; set {key} to {weights.WHAT[kind]}")
        except UserError as exc:
            raise UserError(f"{dataset}: {exc}") from None


def read_manifest(out: Path) -> dict:
    """OUT/reproduce.json, checked for the shape `write_manifest` writes."""
    path = out / MANIFEST
    try:
        m = untrusted.read_json(path, max_bytes=1 << 20)
    except OSError:
        raise UserError(f"{out}: not a reproduction folder (expected {MANIFEST}, written by lfm reproduce)") from None
    except ValueError as exc:
        raise UserError(f"{path}: damaged ({exc})") from None
    ok = (isinstance(m, dict) and isinstance(m.get("experiment"), str) and isinstance(m.get("data"), dict)
          and all(isinstance(k, str) and isinstance(v, str) for k, v in m["data"].items())
          and isinstance(m.get("seeds"), list) and all(type(s) is int and s >= 0 for s in m["seeds"])
          and isinstance(m.get("overrides"), list) and all(isinstance(o, str) for o in m["overrides"])
          and isinstance(m.get("rows", []), list) and all(isinstance(o, str) for o in m.get("rows", [])))
    if not ok:
        raise UserError(f"{path}: damaged (not the record lfm reproduce writes)")
    return m


def write_manifest(rep: Reproduction) -> None:
    """OUT/reproduce.json, once: a continued reproduction keeps the record of its first command."""
    if is_reproduction(rep.out):
        return
    rep.out.mkdir(parents=True, exist_ok=True)
    writes.write_atomic(rep.out / MANIFEST, json.dumps(rep.manifest(), indent=2) + "\n")


def is_reproduction(out: Path) -> bool:
    return (Path(out) / MANIFEST).is_file()


def with_reproductions(folders: list[Path]) -> list[Path]:
    """The folders, a reproduction folder replaced by its sweep folders (OUT/<dataset>/<row>)."""
    out = []
    for f in folders:
        out += sorted(p.parent for p in Path(f).glob(f"*/*/{layout.SWEEP_PLAN}")) if is_reproduction(f) else [f]
    return out


def sweep_started(sweep: Sweep) -> bool:
    return layout.is_sweep(sweep.folder)
