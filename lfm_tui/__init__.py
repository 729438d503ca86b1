"""The user side: CLI, headless console, dashboard. Never imports torch."""
