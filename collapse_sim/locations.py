"""Where a run's files live: its results store (its run directory, or the fsspec URL in ``store_url.txt``),
its lock, and a failed sweep job's ``error.txt``."""

from __future__ import annotations

from pathlib import Path

from collapse_sim.errors import ConfigError

FAILURE_FILE = "error.txt"  # written by a sweep job that failed (collapse_sim.app)

STORE_NAME = "results.zarr"
POINTER = "store_url.txt"  # in a run directory whose store lives at a URL
LOCK_FILE = ".lock"  # held by the one process writing a run directory


def check_store_url(url: str) -> str:
    """An fsspec URL whose protocol this machine can use; else a ConfigError naming what would work."""
    import fsspec

    protocol, sep, _ = url.partition("://")
    if not sep or not protocol:
        raise ConfigError(
            "store_url",
            f"must be a URL such as file:///shared/runs/a.zarr or memory://a.zarr, got {url!r}; "
            "leave it unset to keep the store in the run directory",
        )
    try:
        fsspec.get_filesystem_class(protocol)
    except (ValueError, ImportError) as error:
        raise ConfigError(
            "store_url",
            f"{protocol}:// cannot be used here ({str(error).splitlines()[0]}); file:// and memory:// "
            "always work, s3:// and gs:// need the s3fs or gcsfs package",
        ) from None
    return url


def as_location(url: str) -> str | Path:
    """A ``file://`` URL as a local path (zarr's local store makes folders as it goes); others as given."""
    return Path(url.removeprefix("file://")) if url.startswith("file://") else url


def store_location(path: str | Path) -> str | Path:
    """The store of a run: a URL as given, a ``.zarr`` path as given, else the run directory's store."""
    if "://" in str(path):
        return as_location(str(path))
    path = Path(path)
    if path.suffix == ".zarr":
        return path
    if (path / POINTER).is_file():
        return as_location((path / POINTER).read_text().strip())
    return path / STORE_NAME


def exists(location: str | Path) -> bool:
    """Whether a store path or URL exists."""
    if isinstance(location, Path):
        return location.exists()
    import fsspec

    filesystem, root = fsspec.core.url_to_fs(location)
    return filesystem.exists(root)
