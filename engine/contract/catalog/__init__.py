"""The built-in methods, each declared once: its `[method.<name>]` key table (a dataclass of
engine/schema_fields.spec fields: type, default, bounds, documentation, where the default comes
from) right above its `MethodInfo` (engine/contract/method_info.py: name, summary, implementation, fusion,
modality count, checks, table label, paper and reference code). Standard library only: the
recipe validation and the UI read it without torch. engine/contract/method_registry.py adds the methods
of installed packages to these.
"""
from __future__ import annotations

from engine.contract.catalog import fusions, gradients, objectives

# table order: the unimodal reference and the fusion baselines, the re-balancing baselines, LFM last
BUILTIN = (
    fusions.UNIMODAL, *fusions.FUSION_BASELINES,
    gradients.OGM_GE, objectives.PMR, objectives.GBLEND, objectives.MLA, gradients.MMPARETO,
    gradients.MMTM, fusions.ML_LSTM, fusions.ETMC, objectives.MSES, gradients.GREEDY, fusions.DOMFN,
    gradients.MSLR, gradients.AGM, objectives.RECONBOOST,
    fusions.LFM,
)
