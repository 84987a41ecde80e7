"""Self-contained HTML pages: ``report.html`` beside every run's store, ``sweep.html`` beside a sweep's.

Rendered with jinja2 from ``reporting/templates``; images are inlined as
base64 PNG, there is no script and no external reference, so a page can be
mailed, archived or opened offline.
"""

from __future__ import annotations

import base64
import shlex
from pathlib import Path

import numpy as np
import xarray as xr
from jinja2 import Environment, PackageLoader, select_autoescape

from collapse_sim.progress import wall_time_line
from collapse_sim.reporting import COMPARISON_COLUMNS
from collapse_sim.reporting.captions import run_caption, sweep_caption
from collapse_sim.reporting.classes import rarest_quarter
from collapse_sim.reporting.intervals import (
    MIN_CHAINS,
    SHARE,
    format_interval,
    mean_interval,
    no_interval_note,
    valid_range,
)
from collapse_sim.reporting.run import summary_table
from collapse_sim.reporting.verdict import sweep_verdicts, verdict
from collapse_sim.sweep import chains_per_arm, seeds_of
from collapse_sim.text.words import readable
from collapse_sim.variables import declaring, figures, over

RUN_PAGE, SWEEP_PAGE = "report.html", "sweep.html"

CROPS = "crops.png"  # a generator's kept pictures: shown apart from the curves, with the declared images


def pictures(ds: xr.Dataset) -> set[str]:
    """The files that show the data itself (kept crops, declared labelled images), not curves."""
    return {CROPS} | {f"{f.file}.png" for _, f in figures(ds, "labelled_images")}


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("collapse_sim.reporting", "templates"), autoescape=select_autoescape()
    )
    env.filters["interval"] = lambda triple: format_interval(*triple)
    env.filters["signed_interval"] = lambda triple: format_interval(*triple, digits=3, signed=True)
    env.filters["percent"] = lambda x: f"{x:+.0%}" if np.isfinite(x) else "n/a"
    env.filters["number"] = lambda x: f"{x:.4g}" if isinstance(x, float | int) and np.isfinite(x) else "n/a"
    return env


def inline_png(path: Path, caption: str = "") -> dict:
    """An image as a ``data:`` URI with its title and caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    title = Path(path).stem.replace("_", " ")
    return {"title": title, "caption": caption or title, "uri": f"data:image/png;base64,{data}"}


def commands(ds: xr.Dataset, run_dir: Path) -> dict[str, str]:
    """``reproduce``: the command that runs this configuration again into a new folder; ``resume``: the one
    that continues this run in its own."""
    from collapse_sim.resuming import record, reproduce_command, resume_command

    rec = record(run_dir)
    if rec is not None:
        reproduce = reproduce_command(rec)
    else:  # a store without Hydra's record: its own overrides
        overrides = [str(o) for o in ds.attrs.get("overrides", []) if not str(o).startswith("hydra.")]
        reproduce = shlex.join(["python", "-m", "collapse_sim", *overrides])
    return {"reproduce": reproduce, "resume": resume_command(run_dir)}


def drift_table(ds: xr.Dataset) -> dict | None:
    """Per generation, what each chain trained on: every variable that declares ``table`` (a text one,
    such as a content hash, as one value per chain; the rest as a mean with its interval), the real share,
    and, where a variable ranks the classes, the distance of its shares from generation 0's and where
    each class vanished. None for a run whose variables declare no column."""
    columns = declaring(ds, "table")
    if not columns:
        return None
    chained = "replicate" in ds.dims
    per = (lambda da: da) if chained else (lambda da: da.expand_dims(replicate=[0]))
    texts = [c for c in columns if not np.issubdtype(ds[c].dtype, np.number)]
    numbers = [c for c in columns if c not in texts]
    ranking = declaring(ds, "ranks_classes")
    shares = per(ds[ranking[0]]) if ranking else None
    dim = over(shares) if ranking else None
    # total variation from generation 0's real data
    distance = 0.5 * abs(shares - shares.isel(generation=0)).sum(dim) if ranking else None
    rows = []
    for i, generation in enumerate(ds.generation.values):
        row = {
            "generation": int(generation),
            "texts": [
                " ".join(str(v) for v in np.atleast_1d(per(ds[c]).isel(generation=i).values)) for c in texts
            ],
            "real_share": mean_interval(per(ds["real_fraction"]).isel(generation=i).values, SHARE)[:3],
            "class_distance": mean_interval(distance.isel(generation=i).values, SHARE)[:3]
            if ranking
            else None,
        }
        for name in numbers:
            row[name] = mean_interval(per(ds[name]).isel(generation=i).values, valid_range(ds[name]))[:3]
        rows.append(row)
    vanished = []
    for name in shares[dim].values if ranking else []:
        gone = (shares.sel({dim: name}) == 0).values  # (generation, replicate)
        firsts = [int(ds.generation.values[np.argmax(col)]) if col.any() else None for col in gone.T]
        vanished.append({"name": str(name), "firsts": firsts})
    return {
        "rows": rows,
        "texts": texts,
        "columns": numbers,
        "described": {c: ds[c].attrs.get("description", "") for c in columns},
        "vanished": vanished,
        "rare": rarest_quarter(ds),
    }


def text_samples(ds: xr.Dataset) -> list[dict]:
    """Chain 0's kept passages of each generation, from the variable that declares them (a ``Figure`` of
    kind ``passages``); empty for other families."""
    declared = figures(ds, "passages")
    if not declared:
        return []
    name = declared[0][0]
    texts = ds[name].isel(replicate=0) if "replicate" in ds[name].dims else ds[name]
    kept = [np.atleast_1d(texts.sel(generation=g).values) for g in ds.generation.values]
    return [
        {"generation": int(g), "passages": [readable(str(t)) for t in passages if t]}  # older stores too
        for g, passages in zip(ds.generation.values, kept, strict=True)
    ]


def write_run_page(ds: xr.Dataset, run_dir: Path, plots: list[Path]) -> Path:
    """``report.html`` in the run directory: summary with intervals, plots, data drift, config, command."""
    run_dir = Path(run_dir)
    pngs = [p for p in plots if Path(p).suffix == ".png" and Path(p).exists()]
    shown_apart = pictures(ds)  # the data's own pictures, after the plots
    page = (
        _environment()
        .get_template("run.html.j2")
        .render(
            name=ds.attrs.get("name", "run"),
            chains=ds.sizes.get("replicate", 1),
            lineages=int((ds.attrs.get("config") or {}).get("lineages", 1)),
            min_chains=MIN_CHAINS,
            no_interval=no_interval_note(ds.sizes.get("replicate", 1)),
            generations=int(ds.sizes["generation"]),
            started=ds.attrs.get("started", ""),
            version=ds.attrs.get("version", ""),
            device=ds.attrs.get("device", ""),
            wall_time=wall_time_line(ds, run_dir),
            warning=next((found.sentence() for found in [verdict(ds)] if found), ""),
            choices={k: v for k, v in (ds.attrs.get("choices") or {}).items() if v},
            summary=summary_table(ds),
            plots=[inline_png(p, run_caption(p, ds)) for p in pngs if Path(p).name not in shown_apart],
            samples=[inline_png(p, run_caption(p, ds)) for p in pngs if Path(p).name in shown_apart],
            drift=drift_table(ds),
            texts=text_samples(ds),
            texts_figure=next((f for _, f in figures(ds, "passages")), None),
            config_yaml=ds.attrs.get("config_yaml", ""),
            commands=commands(ds, run_dir),
        )
    )
    path = run_dir / RUN_PAGE
    path.write_text(page)
    return path


def sweep_header(ds: xr.Dataset, swept: list[str]) -> dict[str, str]:
    """What the sweep page's header says of each dimension: a swept setting's values, and the chains
    (replicates, and seeds where they were swept) by their number, never listed one by one."""
    header = {d: ", ".join(str(v) for v in ds[d].values) for d in swept if d in ds.dims and d != "seed"}
    chains, seeds = chains_per_arm(ds), seeds_of(ds)
    seeds = f" ({seeds} seeds of {chains // seeds})" if seeds > 1 else ""
    return header | {"chains": f"{chains} per arm{seeds}"}


def write_sweep_page(ds: xr.Dataset, folder: Path, comparisons: list[dict], plots: list[Path]) -> Path:
    """``sweep.html`` in the sweep directory: the per-arm difference table and the sweep plots."""
    fixed = [k for k in (comparisons[0] if comparisons else {}) if k not in COMPARISON_COLUMNS]
    from collapse_sim.reporting.sweep import swept_dims

    arms = next((d for d in swept_dims(ds) if d not in ("replicate", "seed")), None)
    page = (
        _environment()
        .get_template("sweep.html.j2")
        .render(
            folder=str(Path(folder).resolve()),
            generation=int(ds.generation.values[-1]),
            dims=sweep_header(ds, swept_dims(ds)),
            rows=comparisons,
            fixed=fixed,
            plots=[inline_png(p, sweep_caption(p, ds, arms)) for p in plots if Path(p).exists()],
            warnings=sweep_verdicts(ds, arms),
        )
    )
    path = Path(folder) / SWEEP_PAGE
    path.write_text(page)
    return path
