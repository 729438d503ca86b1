"""The process an engine runs in: distributed setup (dist.py) and signal handling (process.py)."""
