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

from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from collapse_sim.checkpoints import atomic_write
from collapse_sim.config_tree import config_differences
from collapse_sim.errors import ConfigError, RunFailure
from collapse_sim.locations import POINTER, STORE_NAME, as_location, exists, store_location
from collapse_sim.zarr_io import as_stored, with_replicate_coordinate, write_whole


class RunStore:
    """The results store of one run directory.

    With ``chains`` (detection: independent loops run side by side) every
    variable gets a ``replicate`` slot per chain, ``chain_completed[generation,
    replicate]`` marks each chain's generation, and ``completed[generation]``
    is set once every chain has it: readers never see a generation that a
    chain has not finished.
    """

    def __init__(self, path: str | Path, generations: int, chains: int | None = None) -> None:
        self.path = path
        self.generations = generations
        self.chains = chains
        self._handles: dict[str, zarr.Array] | None = None
        self._chain_done: np.ndarray | None = None

    @classmethod
    def open_or_create(
        cls,
        run_dir: Path,
        *,
        generations: int,
        attrs: dict,
        url: str | None = None,
        chains: int | None = None,
    ) -> tuple[RunStore, int]:
        """Create the store, or reopen it for resuming; returns it and the first generation to run.

        ``attrs['config']`` is compared with the stored one: a different
        configuration is refused without touching anything. With ``url`` the
        store lives there and ``run_dir/store_url.txt`` points to it. For
        chained runs each chain's own first generation is ``chain_starts()``.
        """
        check_reusable(run_dir, attrs["config"], url)
        if url is not None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            atomic_write(Path(run_dir) / POINTER, lambda file: file.write(f"{url}\n".encode()))
        store = cls(as_location(url) if url is not None else Path(run_dir) / STORE_NAME, generations, chains)
        if not exists(store.path) or store._holds_no_results():
            store._create(store._skeleton(attrs))
            return store, 0
        completed = xr.open_zarr(store.path, consolidated=True)["completed"].values
        incomplete = np.flatnonzero(~completed)
        return store, int(incomplete[0]) if incomplete.size else generations

    def _skeleton(self, attrs: dict) -> xr.Dataset:
        skeleton = xr.Dataset(
            {"completed": ("generation", np.zeros(self.generations, dtype=bool))},
            coords={"generation": np.arange(self.generations)},
            attrs=attrs,
        )
        skeleton["completed"].attrs = {
            "units": "1",
            "description": "true once every variable of the generation is written (for every chain)",
        }
        if self.chains is not None:
            skeleton["chain_completed"] = (
                ("generation", "replicate"),
                np.zeros((self.generations, self.chains), dtype=bool),
                {
                    "units": "1",
                    "description": "true once the chain's variables of the generation are written",
                },
            )
            skeleton = skeleton.assign_coords(replicate=np.arange(self.chains))
        return skeleton

    def chain_starts(self) -> list[int]:
        """Each chain's first generation not yet complete (chained runs)."""
        done = np.asarray(zarr.open_group(str(self.path), mode="r")["chain_completed"][:])
        return [int(np.argmin(column)) if not column.all() else self.generations for column in done.T]

    def _create(self, dataset: xr.Dataset, encoding: dict | None = None) -> None:
        """Write a store that holds no results yet; on a local disk whole or not at all."""
        encoding = encoding or {name: {"chunks": (1,) * dataset[name].ndim} for name in dataset.data_vars}
        write_whole(dataset, self.path, encoding)

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

    def _laid_out(self) -> bool:
        """Whether the results' variables were already laid out (by this run or the one it resumes)."""
        group = zarr.open_group(str(self.path), mode="r")
        return bool(set(group.array_keys()) - {"completed", "chain_completed", "generation", "replicate"})

    def _unexpected(self, block: xr.Dataset, generation: int) -> RunFailure:
        group = zarr.open_group(str(self.path), mode="r")
        new = ", ".join(sorted(name for name in block.data_vars if name not in group))
        return RunFailure(
            f"generation {generation} brings variables the store at {self.path} was not laid out with "
            f"({new}): the package or the run's metrics changed while it ran or since it began. Every "
            "complete generation is kept; rerun with the code the run began with to resume, or start anew in "
            "another folder"
        )

    def write(self, generation: int, results: xr.Dataset, *, chain: int | None = None) -> None:
        """Write one generation's variables (of one chain, when chained) into their slots.

        Each generation (and chain) owns its own chunks, so the write cannot
        touch another's data; values go straight to the zarr arrays (xarray's
        region writes reopen and re-validate the store, ~30 ms per call).
        """
        block = as_stored(results)
        if chain is not None:
            block = block.expand_dims(replicate=[chain])
        block = with_replicate_coordinate(block).expand_dims(generation=[generation])
        if self._handles is None:
            names = list(block.data_vars) + ["completed"] + (["chain_completed"] if chain is not None else [])
            self._handles = self._arrays(names)
            if self._handles is None:
                if self._laid_out():  # never lay it out again: that would blank the kept generations
                    raise self._unexpected(block, generation)
                self._create_variables(block)
                self._handles = self._arrays(names)
            self._check_coordinates(block)
        if any(name not in self._handles for name in block.data_vars):
            raise self._unexpected(block, generation)
        slot = (slice(generation, generation + 1),) + (
            (slice(chain, chain + 1),) if chain is not None else ()
        )
        for name, var in block.data_vars.items():
            self._handles[name][slot] = var.values

    def _create_variables(self, block: xr.Dataset) -> None:
        """Lay out every variable, empty, at the first write (when no generation is complete yet)."""
        shape = {"generation": np.arange(self.generations)}
        if self.chains is not None:
            shape["replicate"] = np.arange(self.chains)
        template = block.reindex(shape)
        for name, var in template.data_vars.items():
            blank = "" if var.dtype == object else np.nan
            template[name] = xr.full_like(var, blank, dtype=object if var.dtype == object else float)
        skeleton = self._skeleton(xr.open_zarr(self.path, consolidated=True).attrs)
        one = 2 if self.chains is not None else 1  # a chunk per generation (and chain)
        encoding = {name: {"chunks": (1,) * var.ndim} for name, var in skeleton.data_vars.items()}
        encoding |= {
            name: {"chunks": (1,) * one + var.shape[one:]} for name, var in template.data_vars.items()
        }
        self._create(xr.merge([skeleton, template], combine_attrs="override"), encoding)

    def _check_coordinates(self, block: xr.Dataset) -> None:
        stored = xr.open_zarr(self.path, consolidated=True)
        for name, coord in block.coords.items():
            if name in ("generation", "replicate") and self.chains is not None:
                continue
            if name != "generation" and not np.array_equal(stored[name].values, coord.values):
                raise ConfigError(
                    "hydra.run.dir",
                    f"{self.path}: coordinate {name!r} differs from the stored one; "
                    "the store belongs to another configuration",
                )

    def is_complete(self, generation: int) -> bool:
        """Whether every chain has written the generation."""
        return bool(self._handles["completed"][generation])

    def read(self, generation: int) -> xr.Dataset:
        """One generation's stored values (every chain), loaded."""
        ds = xr.open_zarr(self.path, consolidated=True).isel(generation=generation)
        return _results_only(ds).drop_vars("completed").load()

    def mark_complete(self, generation: int, *, chain: int | None = None) -> None:
        """Flag the generation (of one chain) as fully written; the last write of a generation.

        ``completed[generation]`` follows once every chain has the generation.
        """
        if chain is None:
            self._handles["completed"][generation] = True
            return
        if self._chain_done is None:
            self._chain_done = np.asarray(self._handles["chain_completed"][:], dtype=bool)
        self._handles["chain_completed"][generation, chain] = True
        self._chain_done[generation, chain] = True
        if self._chain_done[generation].all():
            self._handles["completed"][generation] = True


def check_reusable(run_dir: Path, config: dict, url: str | None = None) -> None:
    """A run directory a job may write: new, empty of results, or holding a store of the same configuration
    (result-neutral settings aside) to resume. Otherwise a ConfigError; nothing is read twice or changed."""
    current = store_location(run_dir)
    if url is not None and current != as_location(url) and exists(current):
        raise ConfigError(
            "store_url",
            f"{run_dir} already has its store at {current}; nothing was changed. Rerun with the same "
            "store_url to resume, or choose a new hydra.run.dir",
        )
    location = as_location(url) if url is not None else Path(run_dir) / STORE_NAME
    if not exists(location) or RunStore(location, 0)._holds_no_results():
        return
    try:
        stored_config = xr.open_zarr(location, consolidated=True).attrs["config"]
    except Exception as error:  # any unreadable store is reported, never overwritten
        raise ConfigError(
            "hydra.run.dir",
            f"{location} exists but is not a readable collapse_sim store ({error}); "
            "choose a new run directory or move it away",
        ) from None
    differing = config_differences(stored_config, config)
    if differing:
        raise ConfigError(
            "hydra.run.dir",
            f"{location} was made with a different configuration (differs at: "
            f"{', '.join(differing[:8])}); nothing was changed. Rerun with the same settings to "
            "resume, or choose a new hydra.run.dir",
        )


def _results_only(ds: xr.Dataset) -> xr.Dataset:
    return ds.drop_vars("chain_completed", errors="ignore")


def open_run(path: str | Path) -> xr.Dataset:
    """Open a run's results as an ``xarray.Dataset`` of its complete generations.

    ``path`` is the run directory, its ``results.zarr``, or a store URL (``file://``, ``memory://``, ...).
    """
    location = store_location(path)
    if not exists(location):
        raise FileNotFoundError(f"no results store at {location}")
    ds = xr.open_zarr(location, consolidated=True)
    done = ds["completed"].values.astype(bool)
    return _results_only(ds).isel(generation=np.flatnonzero(done))
