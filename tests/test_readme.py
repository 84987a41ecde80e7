"""The README's two fresh-machine commands exist, and CI runs exactly its test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL_AND_RUN = "pip install -e . && python -m collapse_sim"
INSTALL_AND_TEST = 'pip install -e ".[dev]" && python -m pytest'


def test_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("## ", 1)[0]
    commands = [line.split("#")[0].strip() for line in head.splitlines() if line.startswith("pip ")]
    assert commands == [INSTALL_AND_RUN, INSTALL_AND_TEST]


def test_ci_runs_the_readme_test_command():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert INSTALL_AND_TEST in lines
