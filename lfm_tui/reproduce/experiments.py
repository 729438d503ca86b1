"""The paper's experiments as data: for each of table1 .. table5 and fig2 .. fig4, its arms (a
row of the paper: a method, an alpha strategy, the overrides that make it), the paper's
datasets it covers, and what its report shows. The settings per dataset (encoders, optimiser,
schedule, batch size, epochs, frames, spectrogram) are the shipped recipes'
(recipes/<dataset>.toml), which hold the paper's section 4.1; `key=value` overrides change them
for every run. Without data of the paper's datasets an experiment runs on the built-in
datasets (emoji, mfeat, fashion, spoken_fashion) at their recipes' budgets.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.contract.catalog import BUILTIN

# the paper's datasets (recipes/<name>.toml, data.root given with --data NAME=PATH) and the
# metric each reports beside ACC
PAPER_DATASETS = {"kinetics_sounds": "map", "cremad": "map", "vggsound": "map",
                  "sarcasm": "f1", "twitter2015": "f1", "nvgesture": "f1"}
# the built-in datasets: no data to give; their recipes fit two CPU cores. spoken_fashion is
# audio-visual and reports MAP beside ACC, as the paper does on CREMA-D and Kinetics-Sounds
BUILTIN_DATASETS = {"emoji": "f1", "mfeat": "f1", "fashion": "f1", "spoken_fashion": "map"}

OURS_H = ("method.name=lfm", "alpha.strategy=heuristic")
OURS_LB = ("method.name=lfm", "alpha.strategy=learned")

# report kinds: which numbers the report shows for each arm
METRICS = "metrics"        # fused ACC and the dataset's second metric (Tables 1, 2)
PARTS = "parts"            # one metric fused, per modality and the gap (Tables 3, 4, 5)
MODALITY_GAP = "modality_gap"  # the feature gap (docs/glossary.md), the paper's modality gap (Figure 2)
ALPHA = "alpha"            # alpha over the fraction of training (Figure 3)
GRADCAM = "gradcam"        # Grad-CAM of the weak modality at some epochs (Figure 4)

# the modality the paper's Figure 4 shows on each of its datasets: the visual one
VISUAL = {"kinetics_sounds": "video", "cremad": "video", "vggsound": "video", "sarcasm": "image",
          "twitter2015": "image", "nvgesture": "rgb"}


@dataclass(frozen=True)
class Arm:
    key: str                        # its sweep folder's name
    row: str                        # the paper's row label
    overrides: tuple[str, ...]
    unimodal: int = 0               # k of the paper's Unimodal-k: a model of the k-th modality alone
    table: str = ""                 # the paper's table of its row, where not the experiment's

    def sees(self, modalities: list[str], paper_modality: str = "") -> tuple[str, ...]:
        """Its overrides on a dataset of these modalities; a unimodal arm names its modality
        (the paper's, where it names one, else the k-th of the dataset's)."""
        if not self.unimodal:
            return self.overrides
        return (*self.overrides, f"method.modality={paper_modality or modalities[self.unimodal - 1]}")


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    table: str                      # the paper's table its rows are looked up in ("" for a figure)
    datasets: tuple[str, ...]       # the paper's datasets it covers
    arms: tuple[Arm, ...]
    report: str                     # METRICS, PARTS, MODALITY_GAP or ALPHA
    metric: str = ""                # PARTS: the metric, "" for the dataset's second metric
    overrides: tuple[str, ...] = ()  # every run's, before the user's
    gradcam_epochs: tuple[int, ...] = ()  # GRADCAM: the epochs drawn (-1: the last), those the runs have

    def metric_of(self, dataset: str) -> str:
        return self.metric or {**PAPER_DATASETS, **BUILTIN_DATASETS}[dataset]


def _m(name: str) -> tuple[str, ...]:
    return (f"method.name={name}",)


# Table 1's rows: the paper's label -> the method of the registry
TABLE1_METHODS = {"Concat": "concat", "Affine": "film", "Channel": "mmtm", "ML-LSTM": "ml_lstm", "Sum": "sum",
                  "Weight": "weight", "ETMC": "etmc", "MSES": "mses", "G-Blend": "gblend", "OGM": "ogm_ge",
                  "Greedy": "greedy", "DOMFN": "domfn", "MSLR": "mslr", "PMR": "pmr", "AGM": "agm", "MLA": "mla",
                  "ReconBoost": "reconboost", "MMPareto": "mmpareto"}
# the methods this package ships that Table 1 has no row for (the unimodal one and LFM are rows of
# their own): table1 runs them too, labelled as not the paper's, where the paper's table reports
# no number (on the built-in datasets; on the paper's, only the paper's rows run)
NOT_IN_TABLE1 = tuple(m.name for m in BUILTIN if m.name not in {*TABLE1_METHODS.values(), "unimodal", "lfm"})
_NOT_IN_TABLE1 = tuple(Arm(m, f"{m} (not in the paper)", _m(m)) for m in NOT_IN_TABLE1)
_UNIMODAL = tuple(Arm(f"unimodal-{k}", f"Unimodal-{k}", _m("unimodal"), unimodal=k) for k in (1, 2, 3))
_OURS = (Arm("ours-h", "Ours-H", OURS_H), Arm("ours-lb", "Ours-LB", OURS_LB))

CLIP = "weights/clip-vit-base-patch32"
CLIP_ENCODERS = ("model.encoders.image.kind=clip_image", f"model.encoders.image.path={CLIP}",
                 "model.encoders.image.freeze=false", "model.encoders.text.kind=clip_text",
                 f"model.encoders.text.path={CLIP}", "model.encoders.text.freeze=false")

EXPERIMENTS = {e.name: e for e in (
    Experiment("table1", "Table 1: every method against the baselines", "table1",
               ("kinetics_sounds", "cremad", "sarcasm", "twitter2015", "nvgesture"),
               (*_UNIMODAL, *(Arm(m, row, _m(m)) for row, m in TABLE1_METHODS.items()), *_NOT_IN_TABLE1, *_OURS),
               METRICS),
    Experiment("table2", "Table 2: recent methods on VGGSound", "table2", ("vggsound",),
               tuple(Arm(m, row, _m(m)) for row, m in TABLE1_METHODS.items()
                     if row in ("AGM", "MLA", "ReconBoost", "MMPareto")) + _OURS, METRICS),
    Experiment("table3", "Table 3: ablation of contrastive learning (CL) and dynamic integration (DI)", "table3",
               ("kinetics_sounds", "cremad", "sarcasm", "twitter2015"),
               (Arm("no-cl", "no CL, no DI", ("method.name=lfm", "alpha.strategy=constant", "alpha.value=0")),
                Arm("cl", "CL, no DI", ("method.name=lfm", "alpha.strategy=constant", "alpha.value=0.5")),
                Arm("cl-di", "CL and DI", OURS_LB)), PARTS),
    Experiment("table4", "Table 4: how alpha is set (constant, stepwise, dynamic) and the polynomial of section 4.4",
               "table4", ("kinetics_sounds", "cremad"),
               (*(Arm(f"constant-{p}", f"constant {p}", ("method.name=lfm", "alpha.strategy=constant", f"alpha.value={p}"))
                  for p in ("0", "0.5", "1")),
                *(Arm(f"stepwise-{p}", f"stepwise h({p})", ("method.name=lfm", "alpha.strategy=stepwise", f"alpha.value={p}"))
                  for p in ("0", "1", "0.05", "0.95")),
                *_OURS,
                Arm("polynomial", "polynomial", ("method.name=lfm", "alpha.strategy=polynomial"), table="section4.4")),
               PARTS, metric="acc"),
    Experiment("table5", "Table 5: CLIP's pretrained encoders (weights in weights/clip-vit-base-patch32, "
               "or set model.encoders.image.path and model.encoders.text.path)", "table5", ("sarcasm", "twitter2015"),
               (Arm("clip", "CLIP", _m("concat")), Arm("clip-mla", "CLIP+MLA", _m("mla")), Arm("clip-ours", "CLIP+Ours", OURS_LB)),
               PARTS, metric="acc", overrides=CLIP_ENCODERS),
    Experiment("fig2", "Figure 2: the modality gap (feature gap) of CONCAT, G-Blend, MLA and LFM", "", ("cremad",),
               (Arm("concat", "CONCAT", _m("concat")), Arm("gblend", "G-Blend", _m("gblend")),
                Arm("mla", "MLA", _m("mla")), Arm("ours-lb", "LFM (Ours-LB)", OURS_LB)), MODALITY_GAP),
    Experiment("fig3", "Figure 3: the learned alpha over the fraction of training, against the heuristic", "",
               tuple(PAPER_DATASETS), (Arm("ours-lb", "Ours-LB", OURS_LB),), ALPHA),
    Experiment("fig4", "Figure 4: Grad-CAM of the weak modality's encoder at the first, seventh and last epoch, "
               "CONCAT and LFM", "", ("twitter2015",),
               (Arm("concat", "CONCAT", _m("concat")), Arm("ours-lb", "LFM (Ours-LB)", OURS_LB)), GRADCAM,
               overrides=("review.gradcam_per_class=1",), gradcam_epochs=(1, 7, -1)),
)}
