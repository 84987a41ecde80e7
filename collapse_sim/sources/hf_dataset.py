"""``source=hf_dataset``: text through Hugging Face ``datasets.load_dataset``, offline unless asked.

Rows of ``text_column`` are joined and split into documents at blank rows, as
``source=text_files`` splits a file at blank lines (WikiText-2's raw rows are
lines with blank rows between paragraphs), then split, tokenized and cut like
every text source. Local files need no hub: ``path=text`` (or ``json``,
``parquet``, ``csv``) with ``data_files``. A hub dataset (``path=wikitext
name=wikitext-2-raw-v1``) is read from the local cache unless ``hub=true``
lets ``datasets`` reach the network (otherwise ``HF_HUB_OFFLINE=1`` and
``HF_DATASETS_OFFLINE=1`` are set for the run, so nothing waits on retries).
"""

from __future__ import annotations

import os
import re

from collapse_sim.errors import ConfigError, first_line
from collapse_sim.sources.text import TextSource

LOCAL_BUILDERS = ("text", "json", "parquet", "csv")  # datasets' loaders of local files


def hf_documents(path: str, name, split: str, data_files, text_column: str, hub: bool) -> list[str]:
    """The documents of a dataset's ``split``: its ``text_column`` rows, split at blank rows."""
    if path in LOCAL_BUILDERS and not data_files:
        raise ConfigError(
            "data_files", f"is empty, but path={path} reads local files: give data_files=FILE (or a list)"
        )
    if not hub:  # before datasets is imported: it reads these once
        os.environ["HF_HUB_OFFLINE"] = os.environ["HF_DATASETS_OFFLINE"] = "1"
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        table = datasets.load_dataset(path, name, split=split, data_files=data_files)
    except FileNotFoundError as error:
        raise ConfigError("data_files", f"{error}; give files that exist") from None
    except (ConnectionError, OSError, ValueError) as error:
        offline = "" if hub else (
            " This run is offline (HF_HUB_OFFLINE=1): read local files with path=text, json, parquet or "
            "csv and data_files=FILE, or set source.hub=true where the network is, to fetch it once into "
            "the cache"
        )  # fmt: skip
        said = first_line(error)
        raise ConfigError("path", f"{path!r} could not be loaded ({said}).{offline}") from None
    if text_column not in table.column_names:
        raise ConfigError(
            "text_column",
            f"is {text_column!r}, which {path} has not; its columns are {', '.join(table.column_names)}",
        )
    joined = "\n".join(row or "" for row in table[text_column])
    return [" ".join(d.split()) for d in re.split(r"\n\s*\n", joined) if d.strip()]


class HFDatasetSource(TextSource):
    """A ``datasets`` dataset (hub id or local files) as the run's real text."""

    def __init__(
        self,
        *,
        path: str,
        name: str | None = None,
        split: str = "train",
        data_files=None,
        text_column: str = "text",
        hub: bool = False,
        passage_tokens: int = 64,
        tokenizer: str = "bpe",
        vocab_size: int = 1024,
        test_share: float = 0.1,
        pool_size: int | None = None,
        pretrain_share: float = 0.0,
    ) -> None:
        files = list(data_files) if isinstance(data_files, (list, tuple)) else data_files
        super().__init__(
            hf_documents(path, name, split, files, text_column, bool(hub)),
            passage_tokens=passage_tokens,
            tokenizer=tokenizer,
            vocab_size=vocab_size,
            test_share=test_share,
            pool_size=pool_size,
            pretrain_share=pretrain_share,
            what=f"the dataset {path}" + (f" ({name})" if name else ""),
            key="path",
        )
