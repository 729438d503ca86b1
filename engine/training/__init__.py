"""The training loop and what it needs: the trainer (trainer.py) and the state a checkpoint holds
of it (trainer_state.py, checkpoint.py), evaluation on a split (evaluation.py) with its metrics
and confusion matrices."""
