"""One crash-safe Zarr store per run.

The store is laid out whole at the first generation written, a generation's
values are written (into its own chunks, or, for a batched store, into chunks of
many generations that are replaced whole), and ``completed[generation]`` is set
last, so a crash never exposes a half-written generation.  Root attributes hold the
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

CHUNK_VALUES = 2**17  # values in a chunk of a batched store: a megabyte of float64


class RunStore:
    """The results store of one run directory.

    With ``chains`` (detection: independent loops run side by side) every
    variable gets a ``replicate`` slot per chain, ``chain_completed[generation,
    replicate]`` marks each chain's generation, and ``completed[generation]``
    is set once every chain has it: readers never see a generation that a
    chain has not finished.
    """

    completed_attrs = {  # noqa: RUF012 (read, never changed)
        "units": "1",
        "description": "true once every variable of the generation is written (for every chain)",
    }

    def __init__(
        self,
        path: str | Path,
        generations: int,
        chains: int | None = None,
        attrs: dict | None = None,
        *,
        batched: bool = False,
    ) -> None:
        self.path = path
        self.generations = generations
        self.chains = chains
        self.batched = batched  # written in batches of generations (a vectorised run's flushes)
        self.attrs = attrs  # the root attributes the store is laid out with
        self.fresh = True  # nothing kept yet: the first write lays the store out (replacing a resultless one)
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
        batched: bool = False,
    ) -> tuple[RunStore, int]:
        """Open the store for resuming, or prepare a new one; returns it and the first generation to run.

        ``attrs['config']`` is compared with the stored one: a different
        configuration is refused without touching anything. A new store is laid
        out, in one write, at the first generation written: a run stopped before
        then has kept nothing. With ``url`` the store lives there and
        ``run_dir/store_url.txt`` points to it. For chained runs each chain's own
        first generation is ``chain_starts()``. ``batched``: a vectorised run that writes many generations
        at a time; its new store gets chunks of many generations (a chunk is replaced whole, atomically on a
        local disk since zarr 3.1.3 and on object stores, so a kill never damages a kept generation).
        """
        check_reusable(run_dir, attrs["config"], url)
        if url is not None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            atomic_write(Path(run_dir) / POINTER, lambda file: file.write(f"{url}\n".encode()))
        location = as_location(url) if url is not None else Path(run_dir) / STORE_NAME
        store = cls(location, generations, chains, attrs, batched=batched and chains is None)
        if not exists(store.path) or store._holds_no_results():
            return store, 0
        store.fresh = False
        completed = xr.open_zarr(store.path, consolidated=True)["completed"].values
        incomplete = np.flatnonzero(~completed)
        return store, int(incomplete[0]) if incomplete.size else generations

    def _skeleton(self) -> xr.Dataset:
        skeleton = xr.Dataset(
            {"completed": ("generation", np.zeros(self.generations, dtype=bool))},
            coords={"generation": np.arange(self.generations)},
            attrs=self.attrs,
        )
        skeleton["completed"].attrs = dict(self.completed_attrs)
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
        if self.fresh:
            return [0] * self.chains
        done = np.asarray(zarr.open_group(str(self.path), mode="r")["chain_completed"][:])
        return [int(np.argmin(column)) if not column.all() else self.generations for column in done.T]

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
        """Write one generation's variables (of one chain, when chained) into their slots."""
        self.write_generations(generation, [results], chain=chain)

    def write_generations(
        self, first: int, results: list[xr.Dataset], *, chain: int | None = None
    ) -> xr.Dataset:
        """Write consecutive generations from ``first`` (of one chain, when chained) in one batch; returns
        them as stored.

        Values go straight to the zarr arrays, one call a variable (xarray's
        region writes reopen and re-validate the store, ~30 ms per call; zarr
        writes a call's chunks concurrently).
        """
        template = self._stored(first, results[0], chain)
        if self._handles is None:
            self._open(template, first, chain)
        for offset, one in enumerate(results):
            if any(name not in self._handles for name in one.data_vars):
                raise self._unexpected(self._stored(first + offset, one, chain), first + offset)
        new_axes = (None,) if chain is None else (None, None)  # the generation (and chain) slots
        variables = {}
        for name, var in template.data_vars.items():
            blank = np.full(var.shape, "" if var.dtype == object else np.nan, dtype=var.dtype)
            later = [
                np.asarray(one[name].values, dtype=var.dtype)[new_axes] if name in one else blank
                for one in results[1:]
            ]  # a variable a generation does not bring stays empty, as in a generation written alone
            variables[name] = (var.dims, np.concatenate([var.values, *later]), var.attrs)
        coords = {name: coord for name, coord in template.coords.items() if name != "generation"}
        coords["generation"] = np.arange(first, first + len(results))
        batch = xr.Dataset(variables, coords=coords, attrs=template.attrs)
        slot = (slice(first, first + len(results)),) + (
            (slice(chain, chain + 1),) if chain is not None else ()
        )
        for name, var in batch.data_vars.items():
            self._handles[name][slot] = var.values
        return batch

    @staticmethod
    def _stored(generation: int, results: xr.Dataset, chain: int | None) -> xr.Dataset:
        """One generation's results as the store holds them: stored dtypes, a generation (and chain) slot."""
        block = as_stored(results)
        if chain is not None:
            block = block.expand_dims(replicate=[chain])
        return with_replicate_coordinate(block).expand_dims(generation=[generation])

    def _open(self, block: xr.Dataset, generation: int, chain: int | None) -> None:
        """Open the variables' handles at the first write, laying a new store out first."""
        names = list(block.data_vars) + ["completed"] + (["chain_completed"] if chain is not None else [])
        laid_out_here = self.fresh
        if laid_out_here:
            self._lay_out(block)
            self.fresh = False
        handles = self._arrays(names)
        if handles is None:  # never lay it out again: that would blank the kept generations
            raise self._unexpected(block, generation)
        if not laid_out_here:  # a resumed store: its coordinates must be this run's
            self._check_coordinates(block)
        self._handles = handles

    def _lay_out(self, block: xr.Dataset) -> None:
        """Write the whole store, every variable empty, in one operation (on a local disk whole or not at
        all): the first write of a run, when no generation is kept yet."""
        shape = {"generation": np.arange(self.generations)}
        if self.chains is not None:
            shape["replicate"] = np.arange(self.chains)
        template = block.reindex(shape)
        for name, var in template.data_vars.items():
            blank = "" if var.dtype == object else np.nan
            template[name] = xr.full_like(var, blank, dtype=object if var.dtype == object else float)
        skeleton = self._skeleton()
        if self.batched:  # chunks of many generations, about a megabyte each, rewritten whole
            encoding = {"completed": {"chunks": (self.generations,)}}
            for name, var in template.data_vars.items():
                rows = min(self.generations, max(1, CHUNK_VALUES // max(1, int(np.prod(var.shape[1:])))))
                encoding[name] = {"chunks": (rows, *var.shape[1:])}
        else:  # a chunk per generation (and chain): a write never touches another generation's chunk
            one = 2 if self.chains is not None else 1
            encoding = {name: {"chunks": (1,) * var.ndim} for name, var in skeleton.data_vars.items()}
            encoding |= {
                name: {"chunks": (1,) * one + var.shape[one:]} for name, var in template.data_vars.items()
            }
        write_whole(xr.merge([skeleton, template], combine_attrs="override"), self.path, encoding)

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

    def mark_complete(self, generation: int, *, chain: int | None = None, count: int = 1) -> None:
        """Flag the generation (of one chain), or ``count`` generations from it, as fully written: the last
        write of a generation.

        ``completed[generation]`` follows once every chain has the generation.
        """
        if chain is None:
            self._handles["completed"][generation : generation + count] = True
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
