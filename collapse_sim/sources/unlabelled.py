"""A user's unlabelled images: the pool a pseudo-labeller labels, checked before any work.

``unlabelled`` is what Ultralytics accepts for a split: a folder, a ``.txt``
list of image paths, or a list of those. Every file must be a readable image:
a stray file is named rather than skipped, since a folder of the wrong files
would otherwise become a smaller pool without a word.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from collapse_sim.errors import ConfigError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
NAMED = 5  # files named in a refusal; the rest are counted


def _fail(message: str) -> ConfigError:
    return ConfigError("unlabelled", message)


def _listed(listing: Path) -> list[Path]:
    try:
        lines = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"the list {listing} cannot be read as text ({error})") from None
    return [Path(line) if Path(line).is_absolute() else listing.parent / line for line in lines]


def _folder_files(folder: Path) -> list[Path]:
    files = []
    for here, dirs, names in os.walk(folder):  # links are not followed: a pool is a plain folder tree
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files += [Path(here) / n for n in names if not n.startswith(".")]  # .DS_Store and the like
    return sorted(files)


def _named(paths: list[Path]) -> str:
    shown = ", ".join(str(p) for p in paths[:NAMED])
    return shown + (f" and {len(paths) - NAMED} more" if len(paths) > NAMED else "")


def unlabelled_images(entry, check_image) -> list[Path]:
    """The image files of ``entry`` (folder, ``.txt`` list, or a list of those), each checked readable."""
    entries = entry if isinstance(entry, (list, tuple)) else [entry]
    files: list[Path] = []
    for item in entries:
        if not isinstance(item, str) or not item:
            raise _fail(
                f"must be a folder of images, a .txt list of image paths, or a list of those; got {item!r}"
            )
        target = Path(item).expanduser().resolve()
        if target.is_dir():
            found = _folder_files(target)
        elif target.is_file() and target.suffix == ".txt":
            found = _listed(target)
            missing = [p for p in found if not p.is_file()]
            if missing:
                raise _fail(f"the list {target} names files that do not exist: {_named(missing)}")
        else:
            raise _fail(f"{target} does not exist; give a folder of unlabelled images or a .txt list of them")
        if not found:
            raise _fail(
                f"{target} holds no images; put the unlabelled images there "
                f"({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        files += found
    strangers = [p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES]
    unreadable = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES and not check_image(p)]
    if strangers or unreadable:
        raise _fail(
            f"{len(strangers) + len(unreadable)} of its {len(files)} files are not images "
            f"({_named(strangers + unreadable)}); an unlabelled pool holds only images "
            f"({', '.join(sorted(IMAGE_SUFFIXES))}): move the others out"
        )
    return files


def audit_count(audit_share: float, labelled: int) -> int:
    """How many labelled training images are held out as the audit: at least one when the share is > 0,
    and never all of them."""
    if not (
        isinstance(audit_share, (int, float)) and not isinstance(audit_share, bool) and 0 <= audit_share < 1
    ):
        raise ConfigError(
            "audit_share", f"must be a share in [0, 1) of the labelled training images, got {audit_share!r}"
        )
    count = math.ceil(audit_share * labelled) if audit_share > 0 else 0
    if count >= labelled:
        raise ConfigError(
            "audit_share",
            f"{audit_share:g} of the {labelled} labelled training images leaves none to train generation 0 "
            f"on; lower audit_share (at most {(labelled - 1) / labelled:.3g} here) or label more images",
        )
    return count


def split_audit(count: int, labelled: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the labelled images kept for training and of those held out as the audit."""
    order = rng.permutation(labelled)
    return np.sort(order[count:]), np.sort(order[:count])
