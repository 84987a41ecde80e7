"""What the docs say runs: every documented command line composes, validates, builds and passes the
abilities check (nothing is run)."""

from __future__ import annotations

import pytest
from conftest import ROOT, TEXT_MARKS, data_marks, requires_gensim
from doc_commands import all_commands, commands_in

from collapse_sim.config import register_schema
from collapse_sim.hydra_bridge import normalize, parse_command_line
from collapse_sim.preflight import preflight
from collapse_sim.resuming import split

COMMANDS = all_commands()


def _readers_folder(args: tuple[str, ...]) -> str | None:
    """The ``--config-dir`` of a command that names a folder of the reader's own (README's lab)."""
    folder = parse_command_line(normalize(list(args))).config_dir
    return folder if folder and not (ROOT / folder).is_dir() else None


def test_the_documentation_shows_every_experiment_s_command():
    experiments = {p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")}
    shown = {a.split("=", 1)[1] for args in COMMANDS for a in args if a.lstrip("+").startswith("experiment=")}
    assert experiments <= shown, experiments - shown


def marks(args: tuple[str, ...]) -> list:
    """A command that runs a text experiment needs the text extra; one on Fashion-MNIST, its files."""
    named = [a.split("=", 1)[1] for a in args if a.lstrip("+").startswith("experiment=")]
    paths = [ROOT / "conf" / "experiment" / f"{name}.yaml" for name in named]
    texts = [path.read_text() for path in paths if path.exists()]  # the README's lab_noise is the reader's
    textual = any("/source: wikipedia" in t for t in texts)
    return [*([requires_gensim, *TEXT_MARKS] if textual else []), *data_marks("".join(texts))]


@pytest.mark.parametrize(
    "args", [pytest.param(a, marks=marks(a), id=" ".join(a) or "(default run)") for a in sorted(COMMANDS)]
)
def test_a_documented_command_line_is_checked_and_built(args, monkeypatch, request):
    monkeypatch.chdir(ROOT)
    if any("self_training_audit" in a for a in args):  # reads the reader's files, from where they are
        monkeypatch.chdir(request.getfixturevalue("readers_detector_files"))
    if _readers_folder(args):
        # README's own-configs example: the folder is the reader's; the text says what goes in it.
        assert "my_lab/conf/generator/label_noise.yaml" in (ROOT / "README.md").read_text()
        return
    register_schema()
    # resume= names a run of the reader's (or the newest): the rest of the command must check and build.
    resume, rest = split(normalize(list(args)))
    assert resume is None or resume in ("last", "never") or resume.startswith("outputs/")
    command = preflight(rest)
    assert command.jobs, "an inspecting command: nothing would run"
    for *_, job in command.jobs:
        assert job.sim.generations >= 1


def test_the_extractor_reads_continuations_comments_and_prose():
    sample = (
        "Run `python -m collapse_sim -m a=1,2 \\\n    b=3` here;\n"
        "python -m collapse_sim +experiment=x  # note\n"
        "| `python -m collapse_sim c=1` | prose |\npython -m collapse_sim shows collapse\n"
        "collapse-sim-report SWEEP_DIR\n"
    )
    assert commands_in(sample) == [["-m", "a=1,2", "b=3"], ["+experiment=x"], ["c=1"], []]
