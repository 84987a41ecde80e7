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


def test_readme_has_contents_naming_every_section_and_short_captions():
    import re

    text = (ROOT / "README.md").read_text()
    head, _ = text.split("\n## ", 1)
    contents = next(line for line in head.splitlines() if line.startswith("**Contents:**"))
    sections = re.findall(r"^## (.+)$", text, flags=re.M)
    links = re.findall(r"\[([^\]]+)\]\(#([^)]+)\)", contents)
    assert [name for name, _ in links] == sections
    assert all(target == re.sub(r"[^\w\- ]", "", name.lower()).replace(" ", "-") for name, target in links)
    # A figure's caption (the italic paragraph after it) is at most 6 lines; the story lives in docs/.
    for figure, caption in re.findall(r"^(!\[[^\n]+)\n\n(\*[^\n].*?\*)\n", text, flags=re.M | re.S):
        assert len(caption.splitlines()) <= 6, figure[:60]
    assert (ROOT / "docs" / "results.md").exists()
