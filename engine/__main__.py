"""`python -m engine RECIPE [key=value ...]`: one training run, events as JSON Lines on stdout."""
try:
    from engine.run import main

    code = main()
except KeyboardInterrupt:  # a Ctrl-C before main installed its handlers: nothing was started
    code = 130
raise SystemExit(code)
