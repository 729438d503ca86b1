"""The hyper-parameters of a run, as TensorBoard's HParams dashboard shows them: the recipe's keys
that apply to the run's method, dataset, encoders, alpha strategy, optimiser and schedule, flat
as `section.key`, with lists as text (`[pix, mor]`). Keys a run ignores (another method's table, alpha for a
method without it, the options of an unused encoder kind) are left out, so that runs compare on
what differs between them. Standard library only."""
from __future__ import annotations

from engine.contract import method_registry as registry
DATA_KEYS = ("name", "modalities", "batch_size")
# keys of datasets that read them (engine/data/): fashion builds its views from them
DATASET_KEYS = {"fashion": ("thumbnail", "noise", "pairing"), "spoken_fashion": ("noise",)}
ENCODER_KEYS = {
    "mlp": ("hidden", "dropout"),
    "cnn": ("channels", "dropout"),
    "resnet18": ("width",),
    "resnet50": ("path", "freeze"),
    "clip_image": ("path", "freeze"),
    "minilm": ("path", "freeze", "max_tokens", "hidden", "dropout"),
    "bert": ("path", "freeze", "max_tokens"),
    "clip_text": ("path", "freeze", "max_tokens"),
    "text_bow": ("embed_dim", "hidden", "dropout", "max_tokens", "vocab_min_count"),
}
LEARNED_ALPHA_KEYS = ("hypergradient", "initial", "optimizer", "lr", "betas", "evidence", "horizon", "space",
                      "lr_decay", "lr_decay_every",
                      "clip", "terms", "neumann_step", "damping", "hvp", "params", "update_every",
                      "batch_size", "val_batches", "train_batches", "estimates")
ALPHA_KEYS = {"constant": ("value",), "stepwise": ("value",), "heuristic": (), "polynomial": ("coefficients",),
              "learned": LEARNED_ALPHA_KEYS}
OPTIM_KEYS = {"sgd": ("lr", "weight_decay", "momentum"), "adam": ("lr", "weight_decay"),
              "adamw": ("lr", "weight_decay")}
SCHEDULE_KEYS = {"none": (), "step": ("step_size", "gamma"), "plateau": ("gamma", "patience", "min_lr"),
                 "cosine": ("min_lr",)}
TRAIN_KEYS = ("epochs", "seed", "precision")
EVAL_KEYS = ("unimodal", "select")


def _value(v):
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(map(str, v)) + "]"
    return v if isinstance(v, (bool, int, float, str)) else str(v)


def _pick(out: dict, prefix: str, table: dict, keys) -> None:
    for k in keys:
        if k in table:
            out[f"{prefix}.{k}"] = _value(table[k])


def _flat(out: dict, prefix: str, value) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(out, f"{prefix}.{k}", v)
    else:
        out[prefix] = _value(value)


def run_hparams(recipe: dict) -> dict:
    """`section.key` -> value for the keys of `recipe` (the resolved recipe as
    `engine.contract.recipe.to_dict` gives it) that apply to its run."""
    sec = {k: (recipe.get(k) if isinstance(recipe.get(k), dict) else {})
           for k in ("data", "model", "loss", "alpha", "optim", "schedule", "train", "eval", "method")}
    method = registry.METHODS.get(sec["method"].get("name"))
    out: dict = {}
    data = sec["data"]
    _pick(out, "data", data, DATA_KEYS + DATASET_KEYS.get(data.get("name"), ()))

    model = sec["model"]
    _pick(out, "model", model, ("feature_dim",))
    out["model.fusion"] = _value(method.fusion if method and method.fusion else model.get("fusion"))
    modalities = list(data.get("modalities") or ())
    if method is not None and method.single_modality:
        modalities = [sec["method"].get("modality")]
    encoders = model.get("encoders") if isinstance(model.get("encoders"), dict) else {}
    for m in modalities:
        enc = encoders.get(m)
        if isinstance(enc, dict):
            _pick(out, f"model.encoders.{m}", enc, ("kind", *ENCODER_KEYS.get(enc.get("kind"), ())))

    if method is not None and method.uses_alpha:  # the matching loss and its weight
        _pick(out, "model", model, ("projection_dim",))
        _pick(out, "loss", sec["loss"], ("temperature", "pair_reduction"))
        alpha = sec["alpha"]
        _pick(out, "alpha", alpha, ("strategy", *ALPHA_KEYS.get(alpha.get("strategy"), ())))

    optim, schedule = sec["optim"], sec["schedule"]
    _pick(out, "optim", optim, ("name", *OPTIM_KEYS.get(optim.get("name"), ())))
    _pick(out, "schedule", schedule, ("name", *SCHEDULE_KEYS.get(schedule.get("name"), ())))
    _pick(out, "train", sec["train"], TRAIN_KEYS)
    _pick(out, "eval", sec["eval"], EVAL_KEYS)
    for k, v in sec["method"].items():  # the method's name and its own table(s)
        _flat(out, f"method.{k}", v)
    return out
