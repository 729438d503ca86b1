"""The dashboard's screens: recipes, runs, history, comparison, and the dialogs."""
