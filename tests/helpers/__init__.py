"""What several tests share besides fixtures (those are in tests/conftest.py): stand-in networks, measures and
scripts run in subprocesses. pyproject.toml puts tests/ on pytest's path, so tests import `helpers.<module>`."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the repository root: pyproject.toml, src/, docs/
