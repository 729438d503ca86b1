"""`python -m engine.prepare DATASET --root PATH [--check] [key=value ...]`: read a dataset folder
in its community layout, report what was found, and build the prepared cache (spectrograms,
frames, images) that runs read instead of decoding media every epoch. A built-in dataset with a
prepared cache (spoken_fashion) needs no --root: its cache is built from the shipped asset, by
the code its first run calls.

--check reads every file far enough to know it opens, builds nothing, and exits 2 if any file is
missing or unreadable. Without it the cache is built for every sample whose files are there;
missing or unreadable files are listed and the exit status is 2 (the cache is kept).
Exit status: 0 all found, 2 bad input (layout, annotation file, missing or unreadable media).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.contract import recipe as recipes
from engine.contract.validation import build_section
from engine.contract.errors import UserError

SHIPPED = Path(__file__).resolve().parents[1] / "recipes"


def data_config(dataset: str, root: str, recipe_file: str | None, overrides: list[str]):
    """The data section prepare works from: the given recipe's, else the shipped
    recipes/<dataset>.toml's (so that prepare and `lfm run` agree), with the dataset, root and
    `data.*` overrides applied."""
    if dataset not in recipes.DISK_DATASETS:
        raise UserError(f"DATASET: expected one of {', '.join(recipes.PREPARABLE)}, "
                        f"found {dataset!r}")
    raw: dict = {}
    if recipe_file is None and (SHIPPED / f"{dataset}.toml").is_file():
        recipe_file = str(SHIPPED / f"{dataset}.toml")
    if recipe_file:
        raw = dict(recipes.read_toml(recipe_file).get("data", {}))
    raw.update({"name": dataset, "modalities": list(recipes.DATASETS[dataset])} if "modalities" not in raw
               else {"name": dataset})
    if root:
        raw["root"] = root
    problems: list[str] = []
    merged = recipes.apply_overrides({"data": raw}, overrides, problems)
    for key in merged:
        if key != "data":
            problems.append(f"{key}: lfm prepare takes data.* keys only")
    cfg = build_section(recipes.DataConfig, merged.get("data", {}), "data", problems)
    if not cfg.root:
        problems.append("--root: the dataset folder is required")
    for m in cfg.modalities:
        if m not in recipes.DATASETS[dataset]:
            problems.append(f"data.modalities: {dataset!r} has modalities {', '.join(recipes.DATASETS[dataset])}; "
                            f"found {m!r}")
    if problems:
        raise recipes.RecipeError("lfm prepare", problems)
    return cfg


def check_files(manifest, modalities, skip: dict) -> dict[int, list[str]]:
    """Open every file of every sample (those not already missing); sample -> problems."""
    from engine.data.media import MediaError, probe
    from engine.contract.progress import progress

    bad: dict[int, list[str]] = {}
    for i, s in enumerate(progress(manifest.samples, f"checking {manifest.dataset}", "sample")):
        if i in skip:
            continue
        for m in modalities:
            for f in s.sources[m].files():
                try:
                    probe(f)
                except MediaError as exc:
                    bad.setdefault(i, []).append(str(exc))
    return bad


def report(manifest, cfg) -> None:
    from engine.data.disk import frame_count

    counts = manifest.split_counts()
    print(f"{manifest.dataset} at {manifest.root}")
    print(f"  layout: {manifest.layout}")
    print(f"  annotation files: {', '.join(str(p) for p in manifest.annotation_files)}")
    val = (f"{counts['val']}" if manifest.has_val else
           f"none in the files; runs carve data.val_fraction = {cfg.val_fraction:g} of train (stratified)")
    print(f"  samples: train {counts['train']}, val {val}, test {counts['test']} ({len(manifest.samples)} in all)")
    names = manifest.class_names
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    print(f"  classes: {len(names)} ({shown})")
    if any(m not in ("audio", "image", "text") for m in cfg.modalities):
        print(f"  frames per clip: {frame_count(cfg)}, {cfg.image_size}x{cfg.image_size}")


def list_problems(title: str, bad: dict[int, list[str]], manifest) -> None:
    lines = [w for i in sorted(bad) for w in bad[i]]
    print(f"  {title}: {len(lines)} file(s) in {len(bad)} sample(s)")
    for i in sorted(bad):
        for w in bad[i]:
            print(f"    {manifest.samples[i].id}: {w}")


def builtin_recipe(dataset: str, root: str, recipe_file: str | None, overrides: list[str]):
    """The recipe a built-in dataset's cache is built from: the given one, else the shipped
    recipes/<dataset>.toml, with data.root (a folder holding the asset files) and data.* overrides."""
    problems = [f"{o.partition('=')[0].strip()}: lfm prepare takes data.* keys only"
                for o in overrides if not o.strip().startswith("data.")]
    if problems:
        raise recipes.RecipeError("lfm prepare", problems)
    recipe = recipes.load(recipe_file or SHIPPED / f"{dataset}.toml", [*([f"data.root={root}"] if root else []),
                                                                        *overrides])
    if recipe.data.name != dataset:
        raise UserError(f"--recipe {recipe_file}: its data.name is {recipe.data.name!r}, not {dataset!r}")
    return recipe


def prepare_spoken_fashion(recipe, check: bool) -> int:
    """Report what the asset holds and build its audio cache (--check: read the asset only)."""
    from engine.data import spoken_fashion as sf

    asset = sf.read(recipe)
    counts = {k: sum(r["split"] == k for r in asset.rows) for k in sf.SPLITS}
    spoken = sf.voices(asset.rows)
    classes = [str(c) for c in asset.meta["classes"]]
    print(f"spoken_fashion (built in) at {asset.path}")
    print(f"  samples: {', '.join(f'{k} {counts[k]} ({spoken[k]} voices)' for k in sf.SPLITS)} "
          f"({len(asset.rows)} in all)")
    print(f"  classes: {len(classes)} ({', '.join(classes)})")
    p = sf.SPECTROGRAM
    print(f"  audio: {p.shape[0]}x{p.shape[1]} log spectrograms ({p.sr} Hz, n_fft {p.n_fft}, hop {p.hop})")
    if check:
        print("  asset readable; its clips are decoded when the cache is built")
        return 0
    cache = sf.audio_cache(recipe, asset)
    state = f"built ({cache.why})" if cache.why else "up to date"
    print(f"  cache audio: {cache.array} {tuple(cache.meta['shape'])} {cache.meta['dtype']}, {state}")
    print("  all clips decoded; cache ready")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lfm prepare", description=__doc__.splitlines()[0])
    p.add_argument("dataset", help=", ".join(recipes.PREPARABLE))
    p.add_argument("--root", default="", help="the dataset folder, in its community layout (a built-in "
                                              "dataset: none, or a folder holding its asset files)")
    p.add_argument("--check", action="store_true", help="report and open every file; build nothing")
    p.add_argument("--recipe", help="take the data settings (spectrogram, frames, image size) from this "
                                    "recipe (default: the shipped recipes/DATASET.toml)")
    p.add_argument("overrides", nargs="*", help="data.* overrides, e.g. data.spectrogram=released data.frames=1")
    args = p.parse_intermixed_args(argv)
    try:
        if args.dataset in recipes.PREPARED_BUILTINS:
            return prepare_spoken_fashion(builtin_recipe(args.dataset, args.root, args.recipe, args.overrides),
                                          args.check)
        cfg = data_config(args.dataset, args.root, args.recipe, args.overrides)
        from engine.data.cache import dataset_dir, ensure
        from engine.data.disk import modality_spec, scan

        manifest = scan(cfg)
        report(manifest, cfg)
        media = [m for m in cfg.modalities if m != "text"]
        missing = manifest.missing_files(media)
        if args.check:
            unreadable = check_files(manifest, media, missing)
        else:
            folder = dataset_dir(cfg.cache, cfg.name, manifest.root)
            unreadable = {}
            for m in media:
                spec = modality_spec(cfg, m, manifest)
                path, meta, why = ensure(folder, m, spec, [s.sources[m] for s in manifest.samples],
                                         label=f"{cfg.name} {m}")
                state = f"built ({why})" if why else "up to date"
                print(f"  cache {m}: {path} {tuple(meta['shape'])} {meta['dtype']}, {state}")
                for i, w in meta["bad"].items():
                    if int(i) not in missing:
                        unreadable.setdefault(int(i), []).append(w)
    except recipes.RecipeError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not missing and not unreadable:
        print("  all files found and readable" if args.check else "  all files found; cache ready")
        return 0
    if missing:
        list_problems("missing", missing, manifest)
    if unreadable:
        list_problems("unreadable", unreadable, manifest)
    n = len(set(missing) | set(unreadable))
    print(f"error: {args.dataset}: {n} of {len(manifest.samples)} samples have missing or unreadable files "
          f"(listed above); a run refuses them unless its recipe sets data.on_missing = \"skip\"",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
