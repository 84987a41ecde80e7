"""The command line end to end: runs, stores, plots, resume after SIGKILL, sweeps."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import xarray as xr
from conftest import (
    GAUSSIAN,
    SLOW_RUN,
    assert_same_results,
    kill_after,
    one_paragraph,
)

import collapse_sim as cs


@pytest.mark.xdist_group("two_chain_run")
def test_default_run_is_a_detection_simulation(two_chain_run):
    result, run_dir = two_chain_run
    assert "map50_95" in result.stdout and "rarest quarter (" in result.stdout
    assert f"store: {run_dir.resolve() / 'results.zarr'}" in result.stdout
    for plot in ("curves.png", "class_frequency.png", "ap_per_class.png", "samples.png"):
        assert (run_dir / plot).stat().st_size > 5_000, plot
    ds = cs.open_run(run_dir)
    assert ds.attrs["choices"]["source"] == "shapes" and ds.attrs["device"] == "cpu"
    # Two chains: their mean and no t-interval (it would span 12.7 half-ranges), and the summary says why.
    assert "2 chains (mean)" in result.stdout
    assert "\n2 chains: run replicates=4 for an interval\n" in result.stdout
    summary = result.stdout.split("store:")[0]
    assert "[" not in summary.split("\n", 2)[2] and "per generation" in summary
    assert ds.map50.attrs["valid_min"] == 0 and ds.map50.attrs["valid_max"] == 1  # CF ranges in the store
    assert ds.class_frequency.dims == ("generation", "replicate", "class") and ds.sizes["class"] == 8
    assert (
        ds.ap50_95.dims == ("generation", "replicate", "class") and ds.ap50_95_by_size.sizes["size_bin"] == 3
    )
    np.testing.assert_allclose(ds.class_frequency.sum("class"), 1.0)
    # Each generation's weights name the training set they learnt from by the stored hash.
    for chain in (0, 1):
        hashes = [str(h) for h in ds.dataset_hash.sel(replicate=chain).values]
        assert len(set(hashes)) == 3 and all(len(h) == 16 for h in hashes)
        for g, digest in enumerate(hashes):
            weights = run_dir / f"chain_{chain:02d}" / "generations" / f"{g:03d}" / "weights.pt"
            assert torch.load(weights, weights_only=False)["train_args"]["dataset_version"] == digest
    # Ultralytics' settings stay in the run
    assert (run_dir / "chain_00" / "Ultralytics" / "settings.json").exists()


def test_gaussian_run_writes_store_plots_and_summary(tmp_path, app_cli):
    result = app_cli(*GAUSSIAN, "generations=30", "n_samples=50", "replicates=50", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # Every row counts the run's 50 chains, the bookkeeping too (each chain has its own real share).
    rows = [line.split("│") for line in result.stdout.splitlines() if line.startswith("│")]
    assert {row[1].strip(): row[-2].strip() for row in rows} == dict.fromkeys(
        ["variance", "mean_shift", "mean_shift_sq", "w2", "tail_mass[k=2]", "real_fraction", "train_size"],
        "50",
    )
    runs = list((tmp_path / "outputs" / "runs" / "default").iterdir())
    assert len(runs) == 1
    run_dir = runs[0]
    assert "variance" in result.stdout and f"store: {run_dir.resolve() / 'results.zarr'}" in result.stdout
    assert (run_dir / "curves.png").stat().st_size > 10_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        raw = xr.open_zarr(run_dir / "results.zarr")
    assert raw.completed.all() and raw.sizes["generation"] == 30
    ds = cs.open_run(run_dir)
    assert ds.attrs["config"]["n_samples"] == 50 and ds.attrs["choices"]["mixing"] == "replace"
    assert ds.variance.attrs["units"] and ds.variance.dims == ("generation", "replicate")
    assert ds.real_fraction.dims == ("generation", "replicate")
    assert float(ds.variance.isel(generation=-1).mean()) < float(ds.variance.isel(generation=0).mean())


def test_zipf_run_writes_class_heatmap(tmp_path, app_cli):
    result = app_cli("+experiment=zipf_tail", "+debug=default", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    ds = cs.open_run(tmp_path)
    assert ds.class_frequency.dims == ("generation", "replicate", "class")
    assert str(ds["class"].values[0]) == "class_00"
    assert (tmp_path / "class_frequency.png").exists()


def test_plots_label_every_column_s_generations_and_draw_a_lost_class_as_none(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from collapse_sim.reporting.run import plot_run

    drawn = []
    saved = plt.Figure.savefig
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, *a, **k: drawn.append(fig) or saved(fig, *a, **k))
    ds = cs.run(["+experiment=zipf_tail", "+debug=default", "generations=6"])
    gone = ds.class_frequency.isel(generation=-1).mean("replicate").values == 0
    assert gone.any()  # a class lost by the last generation: the case at stake
    plot_run(ds, tmp_path)
    curves, heatmap = drawn[0], next(f for f in drawn if f.axes[0].images)
    panels = [ax for ax in curves.axes if ax.get_visible() and ax.axison]
    columns = {round(ax.get_position().x0, 3) for ax in panels}
    for x in columns:  # the lowest panel of every column shows its generations, whatever the row
        lowest = min(
            (ax for ax in panels if round(ax.get_position().x0, 3) == x), key=lambda a: a.get_position().y0
        )
        curves.canvas.draw()
        assert any(t.get_visible() and t.get_text() for t in lowest.get_xticklabels()), x
        assert lowest.get_xlabel() == "generation"
    shown = heatmap.axes[0].images[0].get_array()
    assert np.ma.getmaskarray(shown)[:, -1][gone].all()  # none, not the colour of a small share


def test_sigkill_and_resume_equals_uninterrupted(tmp_path, app_cli):
    reference = app_cli(*SLOW_RUN, f"hydra.run.dir={tmp_path / 'ref'}")
    assert reference.returncode == 0, reference.stderr
    killed_dir = tmp_path / "killed"
    done = kill_after(SLOW_RUN, killed_dir, 3, timeout=120)
    assert 3 <= done < 10
    resumed = app_cli(*SLOW_RUN, f"hydra.run.dir={killed_dir}")
    assert resumed.returncode == 0, resumed.stderr
    assert f"at generation {done} of 10" in resumed.stdout
    assert_same_results(cs.open_run(tmp_path / "ref"), cs.open_run(killed_dir))


def test_rerun_with_other_config_is_refused_and_store_untouched(tmp_path, app_cli):
    args = [*GAUSSIAN, "+debug=default", "plots=false", f"hydra.run.dir={tmp_path}"]
    assert app_cli(*args).returncode == 0
    store = tmp_path / "results.zarr"
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in store.rglob("*") if p.is_file()}
    message = one_paragraph(app_cli(*args, "seed=1"))
    assert (
        "results.zarr was made with a different configuration (differs at: seed); nothing was changed"
        in message
    )
    assert before == {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in store.rglob("*") if p.is_file()}


def test_experiment_sweep_and_missing_job_become_nan(tmp_path, app_cli):
    result = app_cli(
        "-m",
        "+experiment=accumulate_vs_replace",
        "+debug=default",
        "plots=false",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr
    sw = cs.open_sweep(tmp_path)
    # Options keep the sweep's order (replace, the control, first), as the experiment lists them.
    assert list(sw.mixing.values) == ["replace", "accumulate", "accumulate_subsample"]
    lost = next(
        p
        for p in tmp_path.iterdir()
        if p.name.isdigit() and cs.open_run(p).attrs["choices"]["mixing"] == "replace"
    )
    import shutil

    shutil.rmtree(lost / "results.zarr")
    with pytest.warns(
        UserWarning, match=f"jobs without complete results .*{lost.name} \\(no results.zarr\\)"
    ):
        sw = cs.open_sweep(tmp_path)
    assert np.isnan(sw.variance.sel(mixing="replace")).all()
    assert np.isfinite(sw.variance.sel(mixing="accumulate")).all()
    assert not bool(sw.completed.sel(mixing="replace").any())


def test_import_is_light():
    code = (
        "import sys, collapse_sim; collapse_sim.open_run; "
        "print(sorted(m for m in ('torch', 'ultralytics') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_command_leaves_as_sys_exit_would_with_its_hooks_run():
    """``__main__.leave`` skips only the interpreter's teardown: exit hooks and threads' hooks run, output
    is flushed, and the status is the one ``sys.exit`` would give (None 0, a message 1, a number itself)."""
    import subprocess
    import sys

    code = (
        "import atexit, sys, threading; from collapse_sim.__main__ import leave\n"
        "threading._register_atexit(lambda: print('threads finished', flush=True))\n"
        "atexit.register(lambda: print('exit hook ran'))\n"
        "print('written', end=''); leave(sys.argv[1] if sys.argv[1] != 'None' else None)"
    )
    for given, status in (("None", 0), ("stopped here", 1)):
        done = subprocess.run([sys.executable, "-c", code, given], capture_output=True, text=True)
        assert done.returncode == status and done.stdout == "writtenthreads finished\nexit hook ran\n"
        assert done.stderr == ("" if status == 0 else "stopped here\n")
