"""`python -m engine RECIPE [key=value ...]`: one training run, events as JSON Lines on stdout."""
from engine.run import main

raise SystemExit(main())
