"""Recipes: TOML files into typed, frozen configuration.

Standard library only: the UI imports this module to validate recipes without torch.

`load(path, overrides)` returns a `Recipe` or raises `RecipeError` carrying every problem at
once, each with its key path, what was expected and what was found. Unknown keys are rejected
with the nearest known key suggested.
"""
from __future__ import annotations

import dataclasses
import difflib
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The built-in datasets and the modalities each offers. Datasets whose modalities depend on
# files found on disk map to None and are checked by their loader.
DATASETS: dict[str, tuple[str, ...] | None] = {
    "emoji": ("image", "text"),
    "mfeat": ("fac", "fou", "kar", "mor", "pix", "zer"),
    "fashion": ("thumb", "noisy"),
    "cremad": ("audio", "video"),
    "kinetics_sounds": ("audio", "video"),
    "vggsound": ("audio", "video"),
    "sarcasm": ("image", "text"),
    "twitter2015": ("image", "text"),
    "nvgesture": ("rgb", "depth", "flow"),
}

# Datasets read from a folder the user already has (`data.root`), in the community's layouts.
DISK_DATASETS = ("cremad", "kinetics_sounds", "vggsound", "sarcasm", "twitter2015", "nvgesture")

ENCODER_KINDS = ("mlp", "cnn", "resnet18", "resnet50", "minilm", "bert", "clip_image", "clip_text",
                 "text_bow")
FUSIONS = ("concat", "sum", "weight", "film", "gated")
# Methods: fusion baselines, rebalancing methods, and LFM itself (engine/methods/).
METHODS = ("unimodal", "concat", "sum", "weight", "film", "gated", "ogm_ge", "pmr", "gblend", "mla",
           "mmpareto", "lfm")


def _opt(*, choices: tuple | None = None, lo: float | None = None, hi: float | None = None,
         lo_open: bool = False, doc: str = "") -> dict:
    return {"choices": choices, "lo": lo, "hi": hi, "lo_open": lo_open, "doc": doc}


def spec(default: Any, **kw: Any) -> Any:
    """A dataclass field with validation metadata (choices, range)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=_opt(**kw))
    return field(default=default, metadata=_opt(**kw))


@dataclass(frozen=True)
class DataConfig:
    name: str = spec("emoji", doc="dataset name")
    root: str = spec("", doc="data folder; empty for the built-in assets")
    modalities: tuple[str, ...] = spec((), doc="modalities to use, two or more")
    val_fraction: float = spec(0.15, lo=0.0, hi=0.5, lo_open=True)
    test_fraction: float = spec(0.15, lo=0.0, hi=0.5, lo_open=True)
    split_seed: int = spec(0, lo=0)
    batch_size: int = spec(64, lo=2)
    eval_batch_size: int = spec(512, lo=1)
    standardize: bool = spec(True, doc="feature vectors scaled by training-split mean and std")
    on_missing: str = spec("error", choices=("error", "skip"),
                           doc="samples whose files are missing or unreadable: refuse the run, or skip and count them")
    workers: int = spec(0, lo=0, doc="DataLoader worker processes for datasets read from disk")
    frames: int = spec(0, lo=0, hi=64, doc="video frames sampled per clip; 0 = the dataset's default")
    image_size: int = spec(224, lo=8, hi=1024, doc="side of frames and images after resizing")
    spectrogram: str = spec("paper", choices=("paper", "released"),
                            doc="paper: 16 kHz, hop 160, the paper's shapes; released: the released code's 257x1250")
    cache: str = spec("", doc="prepared-data folder; empty = $LFM_CACHE/prepared (~/.cache/lfm/prepared)")
    # the construction of the built-in `fashion` benchmark (engine/data/fashion.py)
    thumbnail: int = spec(4, lo=1, hi=28, doc="fashion: pixels per side of the blocks averaged into the thumb view (4: 7x7)")
    noise: float = spec(1.0, lo=0.0, doc="fashion: std of the Gaussian noise added to the noisy view (pixels in [0, 1])")
    pairing: str = spec("class", choices=("class", "item"),
                        doc="fashion: the noisy view shows another item of the same class, or the item itself")


@dataclass(frozen=True)
class EncoderConfig:
    kind: str = spec("mlp", choices=ENCODER_KINDS)
    hidden: tuple[int, ...] = spec((256,), doc="MLP hidden widths")
    channels: tuple[int, ...] = spec((32, 64, 128), doc="CNN channels per stage")
    dropout: float = spec(0.0, lo=0.0, hi=1.0)
    path: str = spec("", doc="pretrained weights: a Hugging Face folder (minilm, bert, clip_*, resnet50) or a "
                             "torchvision state dict file (resnet50); empty = the packaged MiniLM")
    freeze: bool = spec(True, doc="keep pretrained weights fixed")
    max_tokens: int = spec(32, lo=1, hi=512)
    embed_dim: int = spec(64, lo=1, doc="token embedding width of text_bow")
    vocab_min_count: int = spec(1, lo=1)


@dataclass(frozen=True)
class ModelConfig:
    feature_dim: int = spec(128, lo=1, doc="d: each encoder's output width")
    fusion: str = spec("concat", choices=FUSIONS,
                       doc="fusion of the lfm and rebalancing methods; a fusion method (concat, sum, "
                           "weight, film, gated) sets its own")
    projection_dim: int = spec(64, lo=0, doc="matching-loss projection width; 0 = raw features")
    encoders: dict[str, EncoderConfig] = spec({}, doc="one table per modality; tables of unused modalities are ignored")


@dataclass(frozen=True)
class LossConfig:
    temperature: float = spec(0.07, lo=0.0, lo_open=True)
    pair_reduction: str = spec("mean", choices=("mean", "sum"))


@dataclass(frozen=True)
class AlphaConfig:
    strategy: str = spec("heuristic", choices=("constant", "stepwise", "heuristic", "polynomial", "learned"))
    value: float = spec(0.5, lo=0.0, hi=1.0, doc="constant alpha, or p of stepwise h(p)")
    coefficients: tuple[float, ...] = spec((1.5e-4, -6.5e-3, 3.2e-2, 1.0),
                                           doc="polynomial a, b, c, d of a t^3 + b t^2 + c t + d")
    # the learned strategy (bi-level; engine/hypergrad.py)
    hypergradient: str = spec("neumann", choices=("neumann", "cg", "identity", "official"))
    initial: float = spec(0.5, lo=0.0, hi=1.0, doc="alpha before the first update")
    lr: float = spec(0.5, lo=0.0, doc="eta_alpha")
    lr_decay: float = spec(1.0, lo=0.0, hi=1.0, lo_open=True, doc="eta_alpha times this every lr_decay_every epochs")
    lr_decay_every: int = spec(0, lo=0, doc="epochs between decays; 0 = never")
    clip: tuple[float, ...] = spec((0.0, 1.0), lo=0.0, hi=1.0, doc="[low, high] bounds of alpha")
    terms: int = spec(5, lo=0, doc="Neumann terms or CG iterations (Hessian-vector products)")
    neumann_step: float = spec(0.01, lo=0.0, lo_open=True, doc="eta of the Neumann series")
    damping: float = spec(0.01, lo=0.0, doc="lambda of CG's (H + lambda I) v = g")
    hvp: str = spec("double_backward", choices=("double_backward", "forward_over_reverse"))
    params: str = spec("last", choices=("all", "last"),
                       doc="parameters the hypergradient spans: all, or the last layer of each encoder, "
                           "the projection heads and the classifier")
    update_every: int = spec(0, lo=0, doc="0: once per epoch (Algorithm 1); N: every N training steps")
    batch_size: int = spec(0, lo=0, doc="samples per hypergradient batch; 0 = data.batch_size")
    val_batches: int = spec(1, lo=1, doc="validation batches of the outer loss L_CLS^val")
    train_batches: int = spec(1, lo=1, doc="training batches of H and b")


@dataclass(frozen=True)
class OgmGeConfig:
    alpha: float = spec(0.1, lo=0.0, lo_open=True, doc="modulation strength: 1 - tanh(alpha (ratio - 1))")
    start: int = spec(0, lo=0, doc="first epoch (counted from 0) with modulation")
    end: int = spec(50, lo=0, doc="epoch (counted from 0) at which modulation stops")
    noise: bool = spec(True, doc="generalisation enhancement: Gaussian noise of the gradient's std")


@dataclass(frozen=True)
class PmrConfig:
    alpha: float = spec(1.0, lo=0.0, doc="weight of the weak modality's prototypical loss")
    momentum: float = spec(0.2, lo=0.0, hi=1.0, doc="share of the previous prototypes kept each epoch")


@dataclass(frozen=True)
class GBlendConfig:
    super_epoch: int = spec(5, lo=1, doc="epochs between two estimates of the blending weights")


@dataclass(frozen=True)
class MlaConfig:
    entropy_fusion: bool = spec(True, doc="at evaluation, weight each modality's logits by its "
                                          "prediction's certainty (softmax of minus entropy)")


@dataclass(frozen=True)
class MethodConfig:
    name: str = spec("lfm", choices=METHODS, doc="the method trained by the one training loop")
    modality: str = spec("", doc="unimodal: the modality to keep")
    ogm_ge: OgmGeConfig = spec(OgmGeConfig())
    pmr: PmrConfig = spec(PmrConfig())
    gblend: GBlendConfig = spec(GBlendConfig())
    mla: MlaConfig = spec(MlaConfig())


# Method -> the keys of [method] it takes besides `name`.
METHOD_KEYS: dict[str, tuple[str, ...]] = {m: () for m in METHODS}
METHOD_KEYS.update(unimodal=("modality",), ogm_ge=("ogm_ge",), pmr=("pmr",), gblend=("gblend",),
                   mla=("mla",))


@dataclass(frozen=True)
class OptimConfig:
    name: str = spec("adam", choices=("sgd", "adam", "adamw"))
    lr: float = spec(1e-3, lo=0.0, lo_open=True)
    weight_decay: float = spec(0.0, lo=0.0)
    momentum: float = spec(0.9, lo=0.0, hi=1.0)


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = spec("none", choices=("none", "step", "plateau", "cosine"))
    step_size: int = spec(30, lo=1)
    gamma: float = spec(0.1, lo=0.0, hi=1.0, lo_open=True)
    patience: int = spec(5, lo=0)
    min_lr: float = spec(0.0, lo=0.0)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = spec(10, lo=1)
    seed: int = spec(0, lo=0)
    log_every: int = spec(10, lo=1, doc="steps between step events")
    threads: int = spec(0, lo=0, doc="torch intra-op threads; 0 leaves the default")
    device: str = spec("auto", choices=("auto", "cpu", "cuda"), doc="auto: CUDA when available")
    precision: str = spec("fp32", choices=("fp32", "bf16"), doc="bf16: autocast on CUDA")
    channels_last: bool = spec(True, doc="channels-last memory format for convolutional encoders on CUDA")
    compile: bool = spec(False, doc="torch.compile the model for training")


@dataclass(frozen=True)
class EvalConfig:
    unimodal: str = spec("split_head", choices=("split_head", "probe"))
    select: str = spec("acc", choices=("acc", "map", "f1", "loss"), doc="validation metric for best.pt")


@dataclass(frozen=True)
class Recipe:
    data: DataConfig = spec(DataConfig())
    model: ModelConfig = spec(ModelConfig())
    loss: LossConfig = spec(LossConfig())
    alpha: AlphaConfig = spec(AlphaConfig())
    optim: OptimConfig = spec(OptimConfig())
    schedule: ScheduleConfig = spec(ScheduleConfig())
    train: TrainConfig = spec(TrainConfig())
    eval: EvalConfig = spec(EvalConfig())
    method: MethodConfig = spec(MethodConfig())
    name: str = spec("", doc="run name; defaults to the recipe file's stem")


class RecipeError(Exception):
    """Every problem found in a recipe, one line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''}"
        return "\n".join([head] + [f"  - {p}" for p in self.problems])


# --------------------------------------------------------------------------- building

def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a table"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def _found(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"a list {value!r}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _check_scalar(tp: Any, value: Any, path: str, meta: dict, problems: list[str]) -> Any:
    ok = True
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif tp is str:
        ok = isinstance(value, str)
    if not ok:
        problems.append(f"{path}: expected {_type_name(tp)}, found {_found(value)}")
        return None
    choices = meta.get("choices")
    if choices and value not in choices:
        near = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        problems.append(f"{path}: expected one of {', '.join(map(repr, choices))}, found {value!r}{hint}")
        return None
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if lo is not None and (value <= lo if meta.get("lo_open") else value < lo):
            rel = ">" if meta.get("lo_open") else ">="
            problems.append(f"{path}: expected a value {rel} {lo}, found {value!r}")
            return None
        if hi is not None and value > hi:
            problems.append(f"{path}: expected a value <= {hi}, found {value!r}")
            return None
    return value


def _build(cls: type, raw: Any, path: str, problems: list[str]) -> Any:
    if not isinstance(raw, dict):
        problems.append(f"{path or 'recipe'}: expected a table, found {_found(raw)}")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        full = f"{path}.{key}" if path else key
        if key not in fields:
            near = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            hint = f" (did you mean {(f'{path}.' if path else '') + near[0]!r}?)" if near else ""
            known = ", ".join(sorted(fields))
            problems.append(f"{full}: unknown key{hint}; known keys here: {known}")
            continue
        tp, meta = hints[key], dict(fields[key].metadata)
        origin = typing.get_origin(tp)
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, full, problems)
        elif origin is dict:
            sub = typing.get_args(tp)[1]
            if not isinstance(value, dict):
                problems.append(f"{full}: expected a table, found {_found(value)}")
                continue
            kwargs[key] = {k: _build(sub, v, f"{full}.{k}", problems) for k, v in value.items()}
        elif origin is tuple:
            item = typing.get_args(tp)[0]
            if not isinstance(value, list):
                problems.append(f"{full}: expected {_type_name(tp)}, found {_found(value)}")
                continue
            before = len(problems)
            items = [_check_scalar(item, v, f"{full}[{i}]", meta, problems) for i, v in enumerate(value)]
            if len(problems) == before:
                kwargs[key] = tuple(items)
        else:
            checked = _check_scalar(tp, value, full, meta, problems)
            if checked is not None:
                kwargs[key] = checked
    return cls(**kwargs)


def _cross_checks(r: Recipe, problems: list[str]) -> None:
    d = r.data
    if d.name not in DATASETS:
        near = difflib.get_close_matches(d.name, list(DATASETS), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        problems.append(f"data.name: expected one of {', '.join(map(repr, DATASETS))}, found {d.name!r}{hint}")
        return
    available = DATASETS[d.name]
    if len(d.modalities) < 2:
        problems.append(f"data.modalities: expected two or more modalities, found {list(d.modalities)!r}")
    if len(set(d.modalities)) != len(d.modalities):
        problems.append(f"data.modalities: expected distinct names, found {list(d.modalities)!r}")
    if available is not None:
        for i, m in enumerate(d.modalities):
            if m not in available:
                problems.append(f"data.modalities[{i}]: {d.name!r} has modalities "
                                f"{', '.join(available)}; found {m!r}")
    for m in d.modalities:
        if m not in r.model.encoders:
            problems.append(f"model.encoders.{m}: missing; every modality in data.modalities needs an encoder table")
    if d.name in DISK_DATASETS and not d.root:
        problems.append(f"data.root: {d.name!r} is read from a folder on disk; set data.root to it "
                        f"(see the comment at the top of recipes/{d.name}.toml)")
    if d.val_fraction + d.test_fraction >= 0.9:
        problems.append("data.val_fraction + data.test_fraction: expected below 0.9, found "
                        f"{d.val_fraction + d.test_fraction:g}")
    a = r.alpha
    if len(a.clip) != 2 or a.clip[0] > a.clip[1]:
        problems.append(f"alpha.clip: expected [low, high] with low <= high, found {list(a.clip)!r}")
    elif a.strategy == "learned" and not a.clip[0] <= a.initial <= a.clip[1]:
        problems.append(f"alpha.initial: expected a value within alpha.clip {list(a.clip)!r}, found {a.initial!r}")
    if r.alpha.strategy == "polynomial" and len(r.alpha.coefficients) != 4:
        problems.append(f"alpha.coefficients: expected 4 numbers (a, b, c, d), found {len(r.alpha.coefficients)}")


def _method_checks(r: Recipe, raw: dict, problems: list[str]) -> None:
    """Hyper-parameters the chosen method does not take, and the unimodal method's modality."""
    m = r.method
    given = raw.get("method", {}) if isinstance(raw.get("method"), dict) else {}
    takes = METHOD_KEYS[m.name]
    for key in given:
        if key != "name" and key not in takes:
            users = [n for n, keys in METHOD_KEYS.items() if key in keys]
            problems.append(f"method.{key}: method {m.name!r} does not take it (taken by "
                            f"{', '.join(map(repr, users))}); remove it or set method.name")
    if m.name == "unimodal":
        if m.modality not in r.data.modalities:
            problems.append(f"method.modality: the unimodal method needs the modality to keep, one of "
                            f"{', '.join(map(repr, r.data.modalities))}; found {m.modality!r}")
    if m.name in ("film", "gated") and len(r.data.modalities) != 2:
        problems.append(f"method.name: {m.name!r} fuses exactly two modalities, found "
                        f"{len(r.data.modalities)} in data.modalities")
    if m.name not in METHOD_FUSIONS and r.model.fusion in ("film", "gated") and len(r.data.modalities) != 2:
        problems.append(f"model.fusion: {r.model.fusion!r} fuses exactly two modalities, found "
                        f"{len(r.data.modalities)} in data.modalities")


# Methods that are a fusion: they set the model's fusion.
METHOD_FUSIONS = ("concat", "sum", "weight", "film", "gated")


def from_dict(raw: dict, source: str = "recipe") -> Recipe:
    problems: list[str] = []
    recipe = _build(Recipe, raw, "", problems)
    if not problems:
        _cross_checks(recipe, problems)
    if not problems:
        _method_checks(recipe, raw, problems)
    if problems:
        raise RecipeError(source, problems)
    return recipe


# --------------------------------------------------------------------------- overrides

def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` into (["a", "b", "c"], value). The value is read as TOML, else as a string;
    `[x,y]` with bare words becomes a list of strings."""
    if "=" not in text:
        raise ValueError(f"override {text!r}: expected key=value")
    key, _, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not key or any(not part for part in key.split(".")):
        raise ValueError(f"override {text!r}: expected a dotted key such as alpha.strategy")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        if value.startswith("[") and value.endswith("]"):
            parsed = [v.strip() for v in value[1:-1].split(",") if v.strip()]
        else:
            parsed = value
    return key.split("."), parsed


def apply_overrides(raw: dict, overrides: list[str], problems: list[str]) -> dict:
    out = _deep_copy(raw)
    for text in overrides:
        try:
            path, value = parse_override(text)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        node = out
        for part in path[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                problems.append(f"override {text!r}: {part!r} is not a table")
                break
            node = nxt
        else:
            node[path[-1]] = value
    return out


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw


def read_toml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise RecipeError(str(p), ["file not found" if not p.exists() else "not a file"])
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RecipeError(str(p), [f"not valid TOML: {exc}"]) from None


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    raw = read_toml(path)
    problems: list[str] = []
    merged = apply_overrides(raw, list(overrides), problems)
    if not merged.get("name"):
        merged["name"] = Path(path).stem
    try:
        recipe = from_dict(merged, str(path))
    except RecipeError as exc:
        raise RecipeError(str(path), problems + exc.problems) from None
    if problems:
        raise RecipeError(str(path), problems)
    return recipe


def to_dict(recipe: Any) -> Any:
    """The resolved recipe as plain TOML-ready data (tuples become lists). The [method] section
    holds only the keys its method takes, so that the result loads again."""
    if isinstance(recipe, MethodConfig):
        keep = ("name", *METHOD_KEYS[recipe.name])
        return {k: to_dict(getattr(recipe, k)) for k in keep}
    if dataclasses.is_dataclass(recipe):
        return {f.name: to_dict(getattr(recipe, f.name)) for f in dataclasses.fields(recipe)}
    if isinstance(recipe, dict):
        return {k: to_dict(v) for k, v in recipe.items()}
    if isinstance(recipe, (list, tuple)):
        return [to_dict(v) for v in recipe]
    return recipe


def dumps(recipe: Recipe) -> str:
    """TOML text of a resolved recipe (the subset of TOML recipes use)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return str(v)

    def table(prefix: str, d: dict) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        subs = {k: v for k, v in d.items() if isinstance(v, dict)}
        if prefix and (scalars or not subs):
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{k} = {value(v)}")
        for k, v in subs.items():
            table(f"{prefix}.{k}" if prefix else k, v)

    table("", to_dict(recipe))
    return "\n".join(lines).lstrip("\n") + "\n"


def header_comment(path: str | Path) -> str:
    """The comment block that opens a recipe file, without the '#' marks."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            out.append(line[1:].removeprefix(" "))
        elif line.strip() == "" and not out:
            continue
        else:
            break
    return "\n".join(out).strip()
