"""Words of a text, as the text metrics count them: lower-cased runs of letters, digits and apostrophes."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, in order."""
    return _WORD.findall(text.lower())


def readable(text: str) -> str:
    """``text`` as a reader can see it: a control character other than a line break or tab (a byte the
    corpus never has, which a byte-level model may still draw) is written as its escape, ``\\x0f``."""
    return "".join(c if c in "\n\t" or unicodedata.category(c) != "Cc" else f"\\x{ord(c):02x}" for c in text)
