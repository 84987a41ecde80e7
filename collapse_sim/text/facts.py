"""Specific content a text holds: the years it mentions and the names it gives.

A year is a four-digit number from 1000 to 2099 standing alone (``1789``, not
``17890`` or ``3.1789``). A name is a run of two or more capitalised words
separated by single spaces (``Abbasid Caliphate``, ``Aberdeen High School``);
a leading function word that only a sentence start capitalised (``The``,
``In``, ...) is dropped first, and what is left must still be two words. The
rule is simple on purpose: it reads every text, real or generated, the same
way, so what it misses it misses on both sides.
"""

from __future__ import annotations

import re

YEAR = re.compile(r"(?<![\d.,])\b(1\d{3}|20\d{2})\b(?![.,]?\d)")
NAME = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b")
LEADING = frozenset(
    "The A An In On At Of For By From As It This That These Those He She They His Her Its Their "
    "After Before During When While But And Or If With Since Under".split()
)


def years(text: str) -> list[str]:
    """The years ``text`` mentions, in order (repeats kept)."""
    return YEAR.findall(text)


def names(text: str) -> list[str]:
    """The capitalised multi-word names ``text`` gives, in order (repeats kept)."""
    found = []
    for match in NAME.findall(text):
        parts = match.split(" ")
        if parts[0] in LEADING:
            parts = parts[1:]
        if len(parts) >= 2:
            found.append(" ".join(parts))
    return found
