"""The MNIST file format (idx): read, checked, and refused with one paragraph naming the file.

An idx file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian 32-bit size per dimension, then the values.
MNIST and MNIST-like sets (Fashion-MNIST, KMNIST, EMNIST) ship four such files,
gzipped or not: training and test images (magic 2051, unsigned bytes, three
dimensions) and their labels (magic 2049, one dimension).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from collapse_sim.errors import ConfigError

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
FILES = {  # role -> the file's name in an MNIST folder (with or without .gz)
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _bytes(path: Path, key: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open  # gzipped or not, whatever the name says
        with opener(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        raise ConfigError(key, f"{path} could not be read ({error}); give an MNIST-format idx file") from None


def read_idx(path: Path, magic: int, key: str) -> np.ndarray:
    """The values of one idx file of unsigned bytes with ``magic`` (2051 images, 2049 labels)."""
    raw = _bytes(path, key)
    what = "images (magic 2051, N x rows x columns bytes)" if magic == IMAGES_MAGIC else "labels (magic 2049)"
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        raise ConfigError(
            key,
            f"{path} is not an MNIST-format file of {what}: its magic number is {found} (expected {magic}); "
            "is it the right one of the four files, or another format?",
        )
    dims = magic & 0xFF
    header = 4 + 4 * dims
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        cut = "truncated" if len(raw) < expected else "longer than its header says"
        raise ConfigError(
            key,
            f"{path} is {cut}: its header announces {' x '.join(map(str, shape))} values ({expected} bytes "
            f"with the header) but it holds {len(raw)} bytes; copy the file again",
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find_file(folder: Path, role: str, key: str) -> Path:
    """The file of ``role`` in an MNIST folder: its name with or without ``.gz``."""
    for name in (FILES[role], FILES[role] + ".gz"):
        if (folder / name).is_file():
            return folder / name
    names = ", ".join(f"{n}[.gz]" for n in FILES.values())
    raise ConfigError(
        key,
        f"{folder} holds no {FILES[role]} (nor {FILES[role]}.gz); an MNIST-format folder holds the four "
        f"files {names} (Debian's dataset-fashion-mnist installs one in /usr/share/datasets/fashion-mnist)",
    )


FASHION_MNIST = "/usr/share/datasets/fashion-mnist"  # where Debian's dataset-fashion-mnist puts them


def read_mnist_folder(folder: Path, key: str) -> dict[str, np.ndarray]:
    """The four arrays of an MNIST folder (images as uint8 (N, H, W)), their counts checked to agree."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            key,
            f"{folder} is not a folder; give the folder holding the four MNIST-format idx files "
            "(Fashion-MNIST on Debian or Ubuntu: apt install dataset-fashion-mnist puts them in "
            f"{FASHION_MNIST})",
        )
    arrays = {}
    for role in FILES:
        magic = IMAGES_MAGIC if role.endswith("images") else LABELS_MAGIC
        arrays[role] = read_idx(find_file(folder, role, key), magic, key)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise ConfigError(
                key,
                f"{folder}: {FILES[split + '_images']} holds {len(images)} images but "
                f"{FILES[split + '_labels']} holds {len(labels)} labels; the two files must come from the "
                "same set",
            )
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise ConfigError(
            key,
            f"{folder}: training images are {arrays['train_images'].shape[1:]} pixels but test images "
            f"{arrays['test_images'].shape[1:]}; both must have the same size",
        )
    return arrays
