"""One crash-safe Zarr store per run.

The store is created before any work, each generation is written into its own
chunks with ``to_zarr(region=...)``, and ``completed[generation]`` is set last,
so a crash never exposes a half-written generation.  Root attributes hold the
resolved configuration; a rerun into the same directory resumes after the last
complete generation, and one with a different configuration is refused.

The store is ``<run dir>/results.zarr`` unless ``store_url`` names an fsspec
URL (``file:///shared/...``, ``memory://...``, ``s3://...`` with s3fs); the
run directory then holds ``store_url.txt``, which ``open_run`` follows.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr

from collapse_sim.checkpoints import atomic_write
from collapse_sim.errors import ConfigError

STORE_NAME = "results.zarr"
POINTER = "store_url.txt"  # in a run directory whose store lives at a URL


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


@contextmanager
def quiet_consolidation():
    # Consolidated metadata is what lets a plain ``xr.open_zarr(path)`` open the
    # store without a fallback warning; zarr warns that it is outside the v3 spec.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        yield


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): tree}


def with_replicate_coordinate(ds: xr.Dataset) -> xr.Dataset:
    """Label the ``replicate`` dimension 0..R-1 where there is one."""
    if "replicate" in ds.dims and "replicate" not in ds.coords:
        return ds.assign_coords(replicate=np.arange(ds.sizes["replicate"]))
    return ds


def as_stored(ds: xr.Dataset) -> xr.Dataset:
    """Numbers as float64 (NaN marks a missing value); text (hashes, labels) as object strings.

    Fixed-width ``<U`` text has no zarr v3 spec (zarr warns), so text variables
    and text coordinates alike are stored as variable-length strings.
    """
    text = [name for name, var in ds.data_vars.items() if var.dtype.kind in "OUS"]
    numeric = ds.drop_vars(text).astype(float)
    stored = xr.merge([numeric, ds[text].astype(object)], combine_attrs="override") if text else numeric
    labels = {name: coord.astype(object) for name, coord in stored.coords.items() if coord.dtype.kind in "US"}
    return stored.assign_coords(labels) if labels else stored


def config_differences(stored: dict, current: dict) -> list[str]:
    """Dotted keys whose values differ between two configuration trees."""
    a, b = _flatten(stored), _flatten(current)
    return sorted(k for k in a.keys() | b.keys() if json.dumps(a.get(k)) != json.dumps(b.get(k)))


class RunStore:
    """The results store of one run directory."""

    def __init__(self, path: str | Path, generations: int) -> None:
        self.path = path
        self.generations = generations
        self._handles: dict[str, zarr.Array] | None = None

    @classmethod
    def open_or_create(
        cls, run_dir: Path, *, generations: int, attrs: dict, url: str | None = None
    ) -> tuple[RunStore, int]:
        """Create the store, or reopen it for resuming; returns it and the first generation to run.

        ``attrs['config']`` is compared with the stored one: a different
        configuration is refused without touching anything. With ``url`` the
        store lives there and ``run_dir/store_url.txt`` points to it.
        """
        current = store_location(run_dir)
        if url is not None and current != as_location(url) and exists(current):
            raise ConfigError(
                "store_url",
                f"{run_dir} already has its store at {current}; nothing was changed. Rerun with the same "
                "store_url to resume, or choose a new hydra.run.dir",
            )
        if url is not None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            atomic_write(Path(run_dir) / POINTER, lambda file: file.write(f"{url}\n".encode()))
        store = cls(as_location(url) if url is not None else Path(run_dir) / STORE_NAME, generations)
        if not exists(store.path) or store._holds_no_results():
            skeleton = xr.Dataset(
                {"completed": ("generation", np.zeros(generations, dtype=bool))},
                coords={"generation": np.arange(generations)},
                attrs=attrs,
            )
            skeleton["completed"].attrs = {
                "units": "1",
                "description": "true once every variable of the generation is written",
            }
            store._create(skeleton)
            return store, 0
        try:
            existing = xr.open_zarr(store.path, consolidated=True)
            stored_config = existing.attrs["config"]
            completed = existing["completed"].values
        except Exception as error:  # any unreadable store is reported, never overwritten
            raise ConfigError(
                "hydra.run.dir",
                f"{store.path} exists but is not a readable collapse_sim store ({error}); "
                "choose a new run directory or move it away",
            ) from None
        differing = config_differences(stored_config, attrs["config"])
        if differing:
            raise ConfigError(
                "hydra.run.dir",
                f"{store.path} was made with a different configuration (differs at: "
                f"{', '.join(differing[:8])}); nothing was changed. Rerun with the same settings to "
                "resume, or choose a new hydra.run.dir",
            )
        incomplete = np.flatnonzero(~completed)
        return store, int(incomplete[0]) if incomplete.size else generations

    def _create(self, skeleton: xr.Dataset) -> None:
        """Write the empty store; on a local disk whole or not at all (built beside it, then renamed).

        A kill while zarr writes a store leaves its metadata unconsolidated, which
        no reader accepts; built under another name, such a remnant is never taken
        for the run's store.
        """
        target = self.path if isinstance(self.path, Path) else None
        where = target.with_name(target.name + ".partial") if target else self.path
        if target:
            shutil.rmtree(where, ignore_errors=True)
        with quiet_consolidation():
            skeleton.to_zarr(where, mode="w", consolidated=True, encoding={"completed": {"chunks": (1,)}})
        if target:
            if target.exists():  # a store without results, which may be replaced
                shutil.rmtree(target)
            os.replace(where, target)

    def _holds_no_results(self) -> bool:
        """True for a readable store in which no generation completed (safe to replace)."""
        try:
            return not zarr.open_group(str(self.path), mode="r")["completed"][:].any()
        except Exception:  # unreadable: let the caller report it, never replace it
            return False

    def _arrays(self, names) -> dict[str, zarr.Array] | None:
        """Open handles of the named variables, or None if any is missing."""
        group = zarr.open_group(str(self.path), mode="r+")
        if not all(name in group for name in names):
            return None
        return {name: group[name] for name in names}

    def write(self, generation: int, results: xr.Dataset) -> None:
        """Write one generation's variables into their slots (creating them on first use).

        Each generation owns its own chunks, so the write cannot touch another
        generation's data; values go straight to the zarr arrays (xarray's
        region writes reopen and re-validate the store, ~30 ms per call).
        """
        block = with_replicate_coordinate(as_stored(results)).expand_dims(generation=[generation])
        if self._handles is None:
            self._handles = self._arrays(list(block.data_vars) + ["completed"])
            if self._handles is None:
                self._create_variables(block)
                self._handles = self._arrays(list(block.data_vars) + ["completed"])
            self._check_coordinates(block)
        for name, var in block.data_vars.items():
            self._handles[name][generation : generation + 1] = var.values

    def _create_variables(self, block: xr.Dataset) -> None:
        template = block.reindex(generation=np.arange(self.generations))
        for name, var in template.data_vars.items():
            blank = "" if var.dtype == object else np.nan
            template[name] = xr.full_like(var, blank, dtype=object if var.dtype == object else float)
        template.attrs = xr.open_zarr(self.path, consolidated=True).attrs
        encoding = {name: {"chunks": (1,) + var.shape[1:]} for name, var in template.data_vars.items()}
        with quiet_consolidation():
            template.to_zarr(self.path, mode="a", consolidated=True, encoding=encoding)

    def _check_coordinates(self, block: xr.Dataset) -> None:
        stored = xr.open_zarr(self.path, consolidated=True)
        for name, coord in block.coords.items():
            if name != "generation" and not np.array_equal(stored[name].values, coord.values):
                raise ConfigError(
                    "hydra.run.dir",
                    f"{self.path}: coordinate {name!r} differs from the stored one; "
                    "the store belongs to another configuration",
                )

    def mark_complete(self, generation: int) -> None:
        """Flag the generation as fully written; the last write of a generation."""
        self._handles["completed"][generation] = True


def open_run(path: str | Path) -> xr.Dataset:
    """Open a run's results as an ``xarray.Dataset`` of its complete generations.

    ``path`` is the run directory, its ``results.zarr``, or a store URL (``file://``, ``memory://``, ...).
    """
    location = store_location(path)
    if not exists(location):
        raise FileNotFoundError(f"no results store at {location}")
    ds = xr.open_zarr(location, consolidated=True)
    done = ds["completed"].values.astype(bool)
    return ds.isel(generation=np.flatnonzero(done))


class MemoryStore:
    """A store that keeps results in memory (notebooks, tests, benchmarks); same interface."""

    def __init__(self, generations: int) -> None:
        self.generations = generations
        self.results: dict[int, xr.Dataset] = {}
        self.completed: set[int] = set()

    def write(self, generation: int, results: xr.Dataset) -> None:
        """Keep one generation's variables."""
        self.results[generation] = results

    def mark_complete(self, generation: int) -> None:
        """Flag the generation as written."""
        self.completed.add(generation)

    def dataset(self) -> xr.Dataset:
        """Complete generations stacked along ``generation``."""
        done = sorted(g for g in self.completed if g in self.results)
        stacked = xr.concat(
            [self.results[g] for g in done],
            dim=xr.DataArray(done, dims="generation", name="generation"),
        )
        return with_replicate_coordinate(as_stored(stacked))
