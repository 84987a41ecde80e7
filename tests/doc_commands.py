"""Every ``python -m collapse_sim ...`` (or ``collapse-sim ...``) command line the documentation shows:
experiment headers (``conf/experiment/*.yaml``), the README, and ``docs/``."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = re.compile(r"(?:python -m collapse_sim|collapse-sim)(?![-.\w])")
# An argument: a flag, an override (key=value, +key=value, ~key), or a flag's value that follows it.
ARGUMENT = re.compile(r"^(-{1,2}[\w-]+|[+~]?[\w./@-]+=.*|~[\w./@-]+)$")
TAKES_VALUE = {"--config-dir", "-cd", "--config-name", "-cn", "--config-path", "-cp"}


def documents() -> list[Path]:
    """The files whose commands must run: experiment headers, the README, docs/."""
    found = sorted((ROOT / "conf" / "experiment").glob("*.yaml")) + [ROOT / "README.md"]
    return found + sorted(p for p in (ROOT / "docs").iterdir() if p.suffix in (".md", ".py"))


def _text(path: Path) -> str:
    if path.suffix == ".yaml":  # the header: comment lines
        return "\n".join(line.lstrip("# ") for line in path.read_text().splitlines() if line.startswith("#"))
    return path.read_text()


def commands(path: Path) -> list[list[str]]:
    """The argument lists of the command lines written in ``path``."""
    return commands_in(_text(path))


def commands_in(text: str) -> list[list[str]]:
    """The argument lists of the command lines written in ``text``."""
    text = re.sub(r"\\\n\s*", " ", text)  # shell line continuations
    found = []
    for match in PROGRAM.finditer(text):
        rest = text[match.end() :].split("\n", 1)[0]
        rest = re.split(r"`|\s\|\s|\s#|\s\s#", rest)[0]  # end of a code span, a table cell, a comment
        try:
            words = shlex.split(rest)
        except ValueError:
            words = rest.split()
        args: list[str] = []
        for word in words:
            if args and args[-1] in TAKES_VALUE or ARGUMENT.match(word):
                args.append(word.rstrip(",;."))
            else:
                break  # prose after the command
        found.append(args)
    return found


def all_commands() -> dict[tuple[str, ...], list[str]]:
    """Each distinct command line and the files that show it."""
    seen: dict[tuple[str, ...], list[str]] = {}
    for path in documents():
        for args in commands(path):
            seen.setdefault(tuple(args), []).append(str(path.relative_to(ROOT)))
    return seen
