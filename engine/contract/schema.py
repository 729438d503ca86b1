"""The recipe schema: every section and key of a recipe as frozen dataclasses, with the
validation metadata of each key (choices, range, doc). Standard library only.

What a method is (its name, keys, fusions) lives in engine/contract/method_registry.py; this module
takes the names from there."""
from __future__ import annotations

from dataclasses import dataclass

from engine.contract.method_registry import FUSIONS as fusion_table
from engine.contract.method_registry import NAMES as method_names
from engine.contract.schema_fields import SEED_MAX, THREADS_MAX, WIDTH_MAX, _opt, spec  # noqa: F401
from engine.contract.schema_methods import MethodConfig

# The built-in datasets and the modalities each offers. Datasets whose modalities depend on
# files found on disk map to None and are checked by their loader.
DATASETS: dict[str, tuple[str, ...] | None] = {
    "emoji": ("image", "text"),
    "mfeat": ("fac", "fou", "kar", "mor", "pix", "zer"),
    "fashion": ("thumb", "noisy"),
    "spoken_fashion": ("audio", "image"),
    "cremad": ("audio", "video"),
    "kinetics_sounds": ("audio", "video"),
    "vggsound": ("audio", "video"),
    "sarcasm": ("image", "text"),
    "twitter2015": ("image", "text"),
    "nvgesture": ("rgb", "depth", "flow"),
}

# Datasets read from a folder the user already has (`data.root`), in the community's layouts.
DISK_DATASETS = ("cremad", "kinetics_sounds", "vggsound", "sarcasm", "twitter2015", "nvgesture")
# Built-in datasets whose first run builds a prepared cache (spectrograms) that `lfm prepare` can
# build beforehand; they need no data.root (it may name a folder holding their asset files).
PREPARED_BUILTINS = ("spoken_fashion",)
# what `lfm prepare DATASET` takes
PREPARABLE = (*DISK_DATASETS, *PREPARED_BUILTINS)

ENCODER_KINDS = ("mlp", "cnn", "resnet18", "resnet50", "minilm", "bert", "clip_image", "clip_text",
                 "text_bow")
CONV_KINDS = ("cnn", "resnet18", "resnet50")  # encoders whose last layers are convolutions (Grad-CAM)
FUSIONS = tuple(fusion_table)
METHODS = method_names  # the registry's names (engine/contract/method_registry.py)




@dataclass(frozen=True)
class DataConfig:
    name: str = spec("emoji", doc="dataset name")
    root: str = spec("", doc="data folder; empty for the built-in assets")
    modalities: tuple[str, ...] = spec((), doc="modalities to use, two or more")
    val_fraction: float = spec(0.15, lo=0.0, hi=0.5, lo_open=True,
                               doc="share of each class held out for validation (alpha, model selection)")
    test_fraction: float = spec(0.15, lo=0.0, hi=0.5, lo_open=True,
                                doc="share of each class held out for the test split (datasets without one of their own)")
    split_seed: int = spec(0, lo=0, doc="seed of the stratified splits (fashion: also its partners and noise)")
    batch_size: int = spec(64, lo=2, doc="training batch (the global batch under several processes)")
    eval_batch_size: int = spec(512, lo=1, doc="batch of validation and test predictions")
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
    noise: float = spec(1.0, lo=0.0, doc="fashion, spoken_fashion: std of the Gaussian noise added to the noisy "
                                         "view, or to the image (pixels in [0, 1])")
    pairing: str = spec("class", choices=("class", "item"),
                        doc="fashion: the noisy view shows another item of the same class, or the item itself")


@dataclass(frozen=True)
class EncoderConfig:
    kind: str = spec("mlp", choices=ENCODER_KINDS, doc="the encoder of this modality")
    hidden: tuple[int, ...] = spec((256,), lo=1, hi=WIDTH_MAX, doc="MLP hidden widths")
    channels: tuple[int, ...] = spec((32, 64, 128), lo=1, hi=WIDTH_MAX, doc="CNN channels per stage")
    width: int = spec(64, lo=1, hi=WIDTH_MAX, doc="resnet18: channels of its first stage, doubled at each of "
                                                  "the other three (64: torchvision's ResNet18)")
    dropout: float = spec(0.0, lo=0.0, hi=1.0, doc="dropout inside the encoder")
    path: str = spec("", doc="pretrained weights: a Hugging Face folder (minilm, bert, clip_*, resnet50) or a "
                             "torchvision state dict file (resnet50); empty = the packaged MiniLM")
    freeze: bool = spec(True, doc="keep pretrained weights fixed")
    max_tokens: int = spec(32, lo=1, hi=512, doc="text encoders: tokens kept per sample")
    embed_dim: int = spec(64, lo=1, hi=WIDTH_MAX, doc="token embedding width of text_bow")
    vocab_min_count: int = spec(1, lo=1, doc="text_bow: training-split occurrences a word needs to be in the vocabulary")


@dataclass(frozen=True)
class ModelConfig:
    feature_dim: int = spec(128, lo=1, hi=WIDTH_MAX, doc="d: each encoder's output width")
    fusion: str = spec("concat", choices=FUSIONS,
                       doc="fusion of the lfm and rebalancing methods; a fusion method (concat, sum, "
                           "weight, film, gated) sets its own")
    projection_dim: int = spec(64, lo=0, hi=WIDTH_MAX, doc="matching-loss projection width; 0 = raw features")
    encoders: dict[str, EncoderConfig] = spec({}, doc="one table per modality; tables of unused modalities are ignored")


@dataclass(frozen=True)
class LossConfig:
    temperature: float = spec(0.07, lo=0.0, lo_open=True, doc="tau of the matching loss L_MM",
                               source="CLIP's value; the paper gives none")
    pair_reduction: str = spec("mean", choices=("mean", "sum"),
                               doc="L_MM over the unordered pairs of three or more modalities",
                               source="ours: a mean keeps alpha comparable across modality counts")


@dataclass(frozen=True)
class AlphaConfig:
    strategy: str = spec("heuristic", choices=("constant", "stepwise", "heuristic", "polynomial", "learned"),
                          doc="how alpha moves over the epochs (docs/method.md)", source="the paper's Ours-H")
    value: float = spec(0.5, lo=0.0, hi=1.0, doc="constant alpha, or p of stepwise h(p)")
    coefficients: tuple[float, ...] = spec((1.5e-4, -6.5e-3, 3.2e-2, 1.0),
                                           doc="polynomial a, b, c, d of a t^3 + b t^2 + c t + d",
                                           source="the paper (its cubic fit of the learned alpha)")
    # the learned strategy (bi-level; engine/alpha/hypergrad.py, engine/alpha/bilevel.py)
    hypergradient: str = spec("cg", choices=("cg", "neumann", "identity", "official"),
                              doc="how H^-1 g_val is approximated", source="ours (docs/alpha.md)")
    initial: float = spec(0.5, lo=0.0, hi=1.0, doc="alpha before the first update")
    optimizer: str = spec("snr", choices=("snr", "adam", "sign", "sgd"),
                          doc="the step on alpha: snr (lr times the evidence that dF/dalpha's sign is not noise, "
                              "see evidence), adam or sign (lr in units of alpha, or of its logit, per update, "
                              "whatever the hypergradient's scale), sgd (alpha - lr * dF/dalpha, the released code's)",
                          source="ours (docs/method.md, docs/alpha.md)")
    lr: float = spec(0.1, lo=0.0, doc="eta_alpha: for snr, adam and sign, the largest change of alpha (space "
                                      "linear) or of logit(alpha) (space logit) per update",
                    source="ours (docs/alpha.md)")
    betas: tuple[float, ...] = spec((0.5, 0.9), lo=0.0, hi=1.0,
                                    doc="adam: decay of the hypergradient's first and second moments (short "
                                        "memory: a run makes tens of updates)")
    evidence: tuple[float, ...] = spec((2.0, 4.0), lo=0.0,
                                       doc="snr: [t_low, t_high]; no step while |t| (the pooled hypergradient over "
                                           "its standard error) < t_low, a full step lr from t_high, linear between",
                                       source="ours (docs/method.md)")
    horizon: float = spec(0.5, lo=0.0, hi=1.0,
                          doc="beta < 1 of the moving average of the hypergradients (and of their standard "
                              "errors) over updates that the step sees; 0 = this update's alone",
                          source="ours (docs/method.md)")
    space: str = spec("linear", choices=("linear", "logit"),
                      doc="where the step applies: logit (z = logit(alpha), alpha = sigmoid(z): alpha leaves and "
                          "nears the bounds smoothly) or linear (alpha itself, Algorithm 1)",
                      source="ours (docs/method.md)")
    lr_decay: float = spec(1.0, lo=0.0, hi=1.0, lo_open=True, doc="eta_alpha times this every lr_decay_every epochs")
    lr_decay_every: int = spec(0, lo=0, doc="epochs between decays; 0 = never")
    clip: tuple[float, ...] = spec((0.0, 1.0), lo=0.0, hi=1.0, doc="[low, high] bounds of alpha",
                                    source="the paper's Algorithm 1")
    terms: int = spec(0, lo=0, doc="CG iterations or Neumann terms (Hessian-vector products); 0 = the "
                                   "solver's default: cg 20, neumann 200")
    neumann_step: float = spec(0.0, lo=0.0,
                               doc="eta of the Neumann series; 0 = 1 / lambda_max, estimated by Lanczos")
    damping: float = spec(0.0, lo=0.0,
                          doc="lambda of CG's (H + lambda I) v = g; 0 = chosen from the spectrum (Lanczos), "
                              "raised on negative curvature")
    hvp: str = spec("double_backward", choices=("double_backward", "forward_over_reverse"),
                     doc="how Hessian-vector products are taken (never a materialised Hessian)")
    params: str = spec("last", choices=("all", "last"),
                       doc="parameters the hypergradient spans: all, or the last layer of each encoder, "
                           "the projection heads and the classifier")
    update_every: int = spec(0, lo=0, doc="0: once per epoch (Algorithm 1); N: every N training steps")
    batch_size: int = spec(0, lo=0, doc="samples per hypergradient batch; 0 = data.batch_size")
    val_batches: int = spec(4, lo=1, doc="validation batches of the outer loss L_CLS^val, per estimate "
                                         "(cheap: one gradient on the cached encoder features)",
                            source="ours (docs/alpha.md)")
    train_batches: int = spec(1, lo=1, doc="training batches of H and b, per estimate")
    estimates: int = spec(4, lo=1, doc="independent (training, validation) draws per update: the "
                                       "hypergradient is their mean, its standard error their spread over "
                                       "sqrt(estimates); snr needs 2 or more",
                          source="ours (docs/alpha.md)")


@dataclass(frozen=True)
class OptimConfig:
    name: str = spec("adam", choices=("sgd", "adam", "adamw"), doc="the model's optimiser")
    lr: float = spec(1e-3, lo=0.0, lo_open=True, doc="learning rate of the model")
    weight_decay: float = spec(0.0, lo=0.0, doc="L2 weight decay (decoupled for adamw)")
    momentum: float = spec(0.9, lo=0.0, hi=1.0, doc="sgd: momentum")


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = spec("none", choices=("none", "step", "plateau", "cosine"),
                     doc="learning-rate schedule, stepped once per epoch; plateau on the validation loss")
    step_size: int = spec(30, lo=1, doc="step: epochs between two decays")
    gamma: float = spec(0.1, lo=0.0, hi=1.0, lo_open=True, doc="step, plateau: factor of each decay")
    patience: int = spec(5, lo=0, doc="plateau: epochs without improvement before a decay")
    min_lr: float = spec(0.0, lo=0.0, doc="plateau, cosine: the lowest learning rate")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = spec(10, lo=1, doc="T: epochs of training (outer iterations of Algorithm 1)")
    seed: int = spec(0, lo=0, hi=SEED_MAX, doc="seeds derived from it (per epoch, step, rank) must fit 64 bits")
    log_every: int = spec(10, lo=1, doc="steps between step events")
    threads: int = spec(0, lo=0, hi=THREADS_MAX, doc="torch intra-op threads; 0 leaves the default")
    device: str = spec("auto", choices=("auto", "cpu", "cuda"), doc="auto: CUDA when available")
    precision: str = spec("fp32", choices=("fp32", "bf16"), doc="bf16: autocast on CUDA")
    channels_last: bool = spec(True, doc="channels-last memory format for convolutional encoders on CUDA")
    compile: bool = spec(False, doc="torch.compile the model for training")


@dataclass(frozen=True)
class EvalConfig:
    unimodal: str = spec("split_head", choices=("split_head", "probe"),
                         doc="per-modality scores: the fused classifier split by modality, or linear probes")
    select: str = spec("acc", choices=("acc", "map", "f1", "loss"), doc="validation metric for best.pt")


@dataclass(frozen=True)
class ReviewConfig:
    """Review figures of the trained model (engine/review/figures.py), written to figures/ and TensorBoard."""
    gap_samples: int = spec(500, lo=0, hi=100_000,
                            doc="test samples of the embedding gap (projector, picture; docs/glossary.md); 0 = none")
    gap_every: int = spec(0, lo=0, doc="also every N epochs (on the epoch's weights); 0 = only at the end")
    gap_projection: str = spec("pca", choices=("pca", "umap"), doc="2-D picture: PCA, or UMAP (needs umap-learn)")
    gradcam: bool = spec(True, doc="Grad-CAM of the convolutional encoders on test samples, best checkpoint")
    gradcam_per_class: int = spec(2, lo=1, hi=64, doc="test samples per class shown by Grad-CAM")
    gradcam_epochs: tuple[int, ...] = spec((), doc="also Grad-CAM on these epochs' weights (counted from 1; -1 = "
                                                   "the last epoch), on the same test samples each time: "
                                                   "figures/gradcam-epoch<NNN>.png")


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
    review: ReviewConfig = spec(ReviewConfig())
    name: str = spec("", doc="run name; defaults to the recipe file's stem")
