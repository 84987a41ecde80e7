"""Read a whole Hydra multirun directory as one Dataset with a dimension per swept setting."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml

from collapse_sim.config_tree import GROUPS
from collapse_sim.locations import FAILURE_FILE, STORE_NAME, exists, store_location
from collapse_sim.store import open_run

FIXED_DIMS = ("generation", "replicate", "class", "k", "job")


def fold_seeds(ds: xr.Dataset) -> xr.Dataset:
    """The sweep with a swept ``seed`` folded into ``replicate``: both are independent chains of one arm.

    Each chain keeps its seed as the coordinate ``seed`` along ``replicate``
    (``ds.where(ds.seed == 1)`` picks one seed's chains); a sweep whose seed
    was not swept is returned as it is.
    """
    if "seed" not in ds.dims:
        return ds
    if "replicate" not in ds.dims:
        ds = ds.expand_dims(replicate=[0]).transpose(..., "replicate")
    stacked = ds.stack(chain=("seed", "replicate"))
    seeds = stacked["seed"].values
    stacked = stacked.drop_vars(["chain", "seed", "replicate"]).rename(chain="replicate")
    folded = stacked.assign_coords(replicate=np.arange(stacked.sizes["replicate"]), seed=("replicate", seeds))
    if "swept" in ds.attrs:
        folded.attrs["swept"] = [d for d in ds.attrs["swept"] if d != "seed"]
    return folded


def seeds_of(ds: xr.Dataset) -> int:
    """How many seeds a sweep's chains come from: 1 unless ``seed`` was swept (kept as a dimension, or
    folded into ``replicate``)."""
    if "seed" in ds.dims:
        return ds.sizes["seed"]
    if "seed" in ds.coords and ds["seed"].dims == ("replicate",):
        return len(np.unique(ds["seed"].values))
    return 1


def chains_per_arm(ds: xr.Dataset) -> int:
    """The independent chains behind each arm of a sweep: replicates times seeds."""
    return ds.sizes.get("replicate", 1) * ds.sizes.get("seed", 1)


def _job_dirs(sweep_dir: Path) -> list[Path]:
    found = [p for p in sweep_dir.iterdir() if (p / ".hydra" / "overrides.yaml").exists()]
    return sorted(found, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else p.name))


def _overrides(job_dir: Path) -> dict[str, str]:
    lines = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    pairs = (line.lstrip("+~").split("=", 1) for line in lines if "=" in line)
    return {key: value for key, value in pairs}


def _open_job(job_dir: Path, problems: dict[str, str]) -> xr.Dataset | None:
    """The job's results, or None with the reason recorded."""
    if (job_dir / FAILURE_FILE).exists():  # whatever store is there is not this job's result
        problems[job_dir.name] = f"failed: {(job_dir / FAILURE_FILE).read_text().strip()}"
        return None
    if not exists(store_location(job_dir)):
        problems[job_dir.name] = f"no {STORE_NAME}"
        return None
    try:
        return open_run(job_dir)
    except Exception as error:  # a damaged store must not hide the other jobs
        problems[job_dir.name] = f"unreadable store: {error}"
        return None


def _lookup(config: dict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _label(value: Any) -> Any:
    # Rounded so 0.1 and 0.1000000000000001 from different jobs fall on one label.
    if isinstance(value, float):
        return float(f"{value:.10g}")
    return value


def _dim_names(keys: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for key in keys:
        short = key if key in GROUPS or key == "experiment" else key.rsplit(".", 1)[-1]
        taken = (
            short in FIXED_DIMS
            or short in names.values()
            or sum(k.rsplit(".", 1)[-1] == short for k in keys) > 1
        )
        names[key] = key.replace(".", "_") if taken and short != key else short
    return names


def open_sweep(sweep_dir: str | Path, *, pool_seeds: bool = True) -> xr.Dataset:
    """Combine every job's store under ``sweep_dir``; swept settings become dimensions.

    A swept group choice (``mixing=replace,accumulate``) becomes a dimension
    named after the group, labelled by option names; a swept value
    (``mixing.real_fraction=0,0.5``) one named after its last key part. Jobs
    that failed or have not finished contribute NaN (with a warning). A swept
    ``seed`` is folded into ``replicate``, as every report pools them
    (``fold_seeds``; each chain's seed stays as a coordinate);
    ``pool_seeds=False`` keeps it a dimension of its own.
    """
    sweep_dir = Path(sweep_dir)
    jobs = _job_dirs(sweep_dir)
    if not jobs:
        raise FileNotFoundError(f"no Hydra jobs (*/.hydra/overrides.yaml) under {sweep_dir}")
    overrides = [_overrides(j) for j in jobs]
    problems: dict[str, str] = {}
    stores = [_open_job(j, problems) for j in jobs]
    all_keys = sorted({k for o in overrides for k in o})
    swept = [k for k in all_keys if len({o.get(k) for o in overrides}) > 1]
    if not any(s is not None for s in stores):
        raise FileNotFoundError(f"none of the {len(jobs)} jobs under {sweep_dir} has a {STORE_NAME}")
    template = next(s for s in stores if s is not None)
    generations = max(s.attrs["config"]["generations"] for s in stores if s is not None)
    full = np.arange(generations)
    for job, ds in zip(jobs, stores, strict=True):
        if ds is not None and ds.sizes["generation"] < len(full):
            problems[job.name] = f"{ds.sizes['generation']} of {len(full)} generations complete"
    if problems:
        listed = "; ".join(f"{name} ({why})" for name, why in problems.items())
        warnings.warn(f"jobs without complete results (shown as NaN): {listed}", stacklevel=2)
    names = _dim_names(swept)
    parts = []
    for job, ds in zip(overrides, stores, strict=True):
        if ds is None:
            ds = xr.full_like(template.drop_vars("completed"), np.nan, dtype=float)
            ds["completed"] = template["completed"] & False
            ds.attrs = {}
        ds = ds.reindex(generation=full)
        ds["completed"] = ds["completed"].fillna(False).astype(bool)
        coords = {}
        for key in swept:
            value = _lookup(ds.attrs.get("config", {}), key) if key not in GROUPS else None
            coords[names[key]] = _label(value if value is not None else yaml.safe_load(str(job.get(key))))
        parts.append(ds.expand_dims("job").assign_coords({n: ("job", [v]) for n, v in coords.items()}))
    combined = xr.concat(parts, dim="job", combine_attrs="drop_conflicts", join="outer")
    dims = [names[k] for k in swept]
    combined.attrs["swept"] = dims  # what the reports compare: not a metric's own dimensions
    warned = {json.dumps(s.attrs["config"].get("warning"), sort_keys=True) for s in stores if s is not None}
    if len(warned) == 1:  # one warning for every job: the sweep states it arm by arm
        combined.attrs["warning"] = json.loads(warned.pop())
    if not dims:
        return combined.isel(job=0, drop=True)
    combined = _by_setting(combined, dims)
    return fold_seeds(combined) if pool_seeds else combined


def _by_setting(combined: xr.Dataset, dims: list[str]) -> xr.Dataset:
    """The jobs' concatenation laid out with a dimension per swept setting."""
    # Numbers in order; options (mode=none,select,correct) as the jobs list them: the first is the control.
    listed = {d: list(dict.fromkeys(combined[d].values.tolist())) for d in dims}
    if len(dims) == 1:
        combined = combined.swap_dims(job=dims[0])
        combined = combined.sortby(dims[0]) if combined[dims[0]].dtype.kind in "iuf" else combined
    else:
        combined = combined.set_index(job=dims).unstack("job")
        options = {d: order for d, order in listed.items() if combined[d].dtype.kind not in "iuf"}
        combined = combined.reindex(options) if options else combined
    return combined.transpose(*dims, ...)
