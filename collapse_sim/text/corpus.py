"""Real text read offline: gensim's shortened Wikipedia dump, or a user's own UTF-8 files.

Every reader returns whole documents (articles, files, or blocks between blank
lines); the source splits them into a training pool and a test set by document,
so no test article is ever trained on.
"""

from __future__ import annotations

import bz2
import functools
import re
from pathlib import Path

from collapse_sim.errors import ConfigError

WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
TEXT_EXTRA = 'pip install -e ".[text]"'
MIN_DOCUMENT_CHARS = 200  # stubs and redirects carry no vocabulary worth losing
# What gensim's filter_wiki leaves behind: table and template remnants, heading marks, bold and italics.
_LEFTOVER = re.compile(r"(\{\{|\}\}|\[\[|\]\]|'{2,}|={2,}|^\s*[|!*#:;]+|&nbsp;)", re.MULTILINE)


def require_gensim(key: str) -> None:
    """Stop before any work, naming the extra to install, when gensim is not installed."""
    import importlib.util

    if importlib.util.find_spec("gensim") is None:
        raise ConfigError(
            key, f"needs gensim (its wheel ships the Wikipedia text), not installed; {TEXT_EXTRA}"
        )


def wiki_dump_path() -> Path:
    """The shortened English Wikipedia dump inside gensim's wheel."""
    from gensim.test.utils import datapath

    return Path(datapath(WIKI_DUMP))


def clean(text: str) -> str:
    """Plain prose: markup gensim leaves removed, one space between words, paragraphs kept."""
    text = _LEFTOVER.sub(" ", text)
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paragraphs if p)


@functools.cache
def wikipedia_documents() -> list[str]:
    """The dump's articles as plain text (gensim's ``extract_pages`` and ``filter_wiki``, then ``clean``)."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    with bz2.open(wiki_dump_path(), "rb") as dump:
        pages = [text for _, text, _ in extract_pages(dump)]
    documents = (
        clean(filter_wiki(text)) for text in pages if not text.lstrip().lower().startswith("#redirect")
    )
    return [d for d in documents if len(d) >= MIN_DOCUMENT_CHARS]


def _read_utf8(path: Path, key: str) -> str:
    data = path.read_bytes()
    nul = data.find(bytes(1))
    if nul >= 0:
        raise ConfigError(key, f"{path} is binary (a NUL byte at offset {nul}); give UTF-8 text files")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            key, f"{path} is not UTF-8 (byte offset {error.start}: {error.reason}); convert it to UTF-8"
        ) from None


def text_file_documents(path: str | Path, key: str = "path") -> list[str]:
    """A file's documents (separated by blank lines), or a folder's ``.txt`` files (one document each)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise ConfigError(key, f"{root} does not exist; give a UTF-8 text file or a folder of .txt files")
    if root.is_file():
        documents = [d.strip() for d in re.split(r"\n\s*\n", _read_utf8(root, key))]
    else:
        files = sorted(p for p in root.rglob("*.txt") if p.is_file())
        if not files:
            raise ConfigError(key, f"{root} holds no .txt file (searched recursively); add UTF-8 .txt files")
        documents = [_read_utf8(p, key).strip() for p in files]
    documents = [" ".join(d.split()) for d in documents if d.strip()]
    if not documents:
        raise ConfigError(key, f"{root} holds no text; give a file or folder with UTF-8 prose")
    return documents
