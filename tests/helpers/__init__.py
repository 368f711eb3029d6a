"""What several tests share besides fixtures (those are in tests/conftest.py): stand-in networks, measures and
scripts run in subprocesses. pyproject.toml puts tests/ on pytest's path, so tests import `helpers.<module>`."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the repository root: pyproject.toml, src/, docs/


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """`ganforge ARGV` in this process: (exit code, stderr), argparse's own exits included."""
    from ganforge import cli

    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    return code, capsys.readouterr().err
