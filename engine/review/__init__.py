"""What a run writes for review besides its events stream: events.jsonl, engine.log and
TensorBoard (sinks.py, run_sinks.py, hparams.py), and the review figures of the recipe's
`[review]` section (figures.py, with gap.py and gradcam.py)."""
