"""`lfm plot`: figures of finished runs, drawn with matplotlib (Agg) in a process of their own.

    python -m lfm_plot RUN_FOLDERS... | SWEEP_FOLDER --out DIR [--style draft|paper] [--format png|svg|pdf]

writes `curves.<fmt>` (alpha over training and validation ACC, fused and per modality, over
epochs: one line per configuration, the mean over seeds with a band of one standard deviation)
and `bars.<fmt>` (test ACC, fused and per modality, per configuration: bars from zero or dots
with intervals of the standard deviation over seeds), each beside a JSON file of the numbers
drawn; `--style paper` for print (lfm_plot/style.py). Rows are the rows of
`lfm compare` (lfm_tui/compare.py), grouped and labelled the same way.

Never imports torch (pyproject.toml, [tool.importlinter]): it reads run folders through the
engine's standard-library contract modules (layout, events) only. The UI runs it as a child
process, so `lfm` itself never imports matplotlib or numpy.
"""
