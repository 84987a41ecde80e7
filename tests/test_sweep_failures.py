"""Sweeps that survive a failing job, are rerun in place, and are reported as a whole."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from conftest import GAUSSIAN, one_paragraph, requires_joblib_launcher, run_cli

import collapse_sim as cs
from collapse_sim.reporting.sweep import swept_dims

SWEEP = (*GAUSSIAN, "+debug=default", "plots=false", "seed=0,1,2")


def job_dirs(sweep_dir):
    return {
        cs.open_run(p).attrs["config"]["seed"]: p
        for p in sweep_dir.iterdir()
        if (p / "results.zarr").exists()
    }


def test_a_failing_job_leaves_the_others_whole_and_a_rerun_finishes_only_it(tmp_path, app_cli):
    # Job 1's folder already holds a store made by another configuration: that job must fail at run time.
    foreign = app_cli(
        *GAUSSIAN, "+debug=default", "plots=false", "seed=1", "n_samples=7", f"hydra.run.dir={tmp_path / '1'}"
    )
    assert foreign.returncode == 0, foreign.stderr
    result = app_cli("-m", *SWEEP, f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 1, result.stderr
    assert "1 of 3 jobs failed" in result.stderr and str(tmp_path / "1") in result.stderr
    assert "Traceback" not in result.stderr
    # The failed job's own log and error file say why; the other jobs finished.
    log = (tmp_path / "1" / "collapse_sim.log").read_text()
    assert "was made with a different configuration (differs at: generator.n, n_samples" in log
    assert "n_samples" in (tmp_path / "1" / "error.txt").read_text()
    for seed in (0, 2):
        ds = cs.open_run(tmp_path / str(seed))
        assert bool(ds.completed.all()) and ds.attrs["config"]["seed"] == seed
    with pytest.warns(UserWarning, match=r"1 \(failed: .*made with a different configuration"):
        sw = cs.open_sweep(tmp_path, pool_seeds=False)
    assert np.isnan(sw.variance.sel(seed=1)).all() and np.isfinite(sw.variance.sel(seed=[0, 2])).all()
    before = {s: cs.open_run(tmp_path / str(s)).attrs["started"] for s in (0, 2)}

    # The user removes the stale store and reruns the same sweep: only job 1 runs.
    import shutil

    shutil.rmtree(tmp_path / "1" / "results.zarr")
    rerun = app_cli("-m", *SWEEP, f"hydra.sweep.dir={tmp_path}")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.count("generations are already complete") == 2
    assert not (tmp_path / "1" / "error.txt").exists()
    assert {s: cs.open_run(tmp_path / str(s)).attrs["started"] for s in (0, 2)} == before
    sw = cs.open_sweep(tmp_path)
    assert bool(sw.completed.all())


def test_a_report_that_cannot_be_written_is_one_paragraph_and_the_store_stays_readable(tmp_path, app_cli):
    run_dir = tmp_path / "run"
    (run_dir / "curves.png").mkdir(parents=True)  # a folder where the plot goes: it cannot be written
    message = one_paragraph(app_cli(*GAUSSIAN, "+debug=default", f"hydra.run.dir={run_dir}"), code=1)
    assert "the report could not be written" in message and "curves.png: Is a directory (EISDIR)" in message
    assert bool(cs.open_run(run_dir).completed.all()) and cs.open_run(run_dir).sizes["generation"] == 3


def test_in_a_sweep_a_report_failure_is_a_failed_job_and_the_others_finish(tmp_path, app_cli):
    (tmp_path / "1" / "curves.png").mkdir(parents=True)
    result = app_cli("-m", *GAUSSIAN, "+debug=default", "seed=0,1,2", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "1 of 3 jobs failed" in result.stderr and "curves.png: Is a directory (EISDIR)" in result.stderr
    assert "the report could not be written" in (tmp_path / "1" / "error.txt").read_text()
    for job in ("0", "2"):
        assert (tmp_path / job / "report.html").is_file() and not (tmp_path / job / "error.txt").exists()
    assert bool(cs.open_run(tmp_path / "1").completed.all())  # its store is whole all the same


def test_report_command_writes_the_combined_store_and_plots(tmp_path, app_cli, capsys):
    result = app_cli(
        "-m",
        *GAUSSIAN,
        "+debug=default",
        "plots=false",
        "mixing=replace,fresh",
        "seed=0,1",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr
    from collapse_sim.report import main as report

    report([str(tmp_path)])
    printed = capsys.readouterr().out
    combined = xr.open_zarr(tmp_path / "sweep.zarr")
    xr.testing.assert_allclose(combined.variance.load(), cs.open_sweep(tmp_path).variance.load())
    assert set(combined.variance.dims) == {"mixing", "generation", "replicate"}  # seeds pooled, as reported
    assert combined.seed.dims == ("replicate",)
    plot = tmp_path / "sweep_variance.png"
    assert plot.stat().st_size > 5_000 and f"plot: {plot}" in printed


def test_report_command_names_a_missing_folder(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    report = subprocess.run(
        [sys.executable, "-m", "collapse_sim.report", str(tmp_path / "nowhere")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert report.returncode == 2 and "nowhere: not a directory" in report.stderr
    assert "Traceback" not in report.stderr


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_report_command_explains_itself(flag, capsys):
    from collapse_sim.report import main as report

    with pytest.raises(SystemExit) as stopped:
        report([flag])
    assert stopped.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("usage: collapse-sim-report") and "SWEEP_DIR" in printed


@pytest.mark.slow
@requires_joblib_launcher
def test_eight_jobs_through_joblib_lose_nothing_and_open_as_one_dataset(tmp_path):
    """A 2 x 2 x 2 grid through joblib's two processes: every job complete, every swept setting a dimension
    with the command's labels, and each job's slice exactly its own store."""
    grid = ["mixing=fraction,fresh", "mixing.real_fraction=0.25,0.5", "seed=range(2)"]
    result = run_cli(
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        *GAUSSIAN,
        "+debug=default",
        "plots=false",
        *grid,
        f"hydra.sweep.dir={tmp_path}",
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    jobs = [p for p in tmp_path.iterdir() if p.name.isdigit()]
    assert len(jobs) == 8
    assert all(bool(cs.open_run(job).completed.all()) for job in jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not one job may be missing or partial
        sw = cs.open_sweep(tmp_path, pool_seeds=False)
    sizes = {"mixing": 2, "real_fraction": 2, "seed": 2, "generation": 3, "replicate": 2, "k": 3}
    assert dict(sw.sizes) == sizes and swept_dims(sw) == ["mixing", "real_fraction", "seed"]
    assert list(sw.mixing.values) == ["fraction", "fresh"] and list(sw.seed.values) == [0, 1]
    np.testing.assert_allclose(sw["real_fraction"].values, [0.25, 0.5])
    assert bool(sw.completed.all()) and np.isfinite(sw.variance).all()
    for job in jobs:  # every job's slice is its own store, not a neighbour's
        own = cs.open_run(job)
        config = own.attrs["config"]
        where = {"mixing": own.attrs["choices"]["mixing"], "seed": config["seed"]}
        picked = sw.variance.sel(real_fraction=config["mixing"]["real_fraction"], **where)
        np.testing.assert_array_equal(picked.values, own.variance.values)


def test_a_sweep_ends_with_one_table_of_its_arms_and_writes_its_report(tmp_path, app_cli):
    """Each job says one line when it ends; the sweep ends with one table (each arm's key variables at
    the last generation, seeds pooled, with intervals), names its failed job, and writes sweep.html."""
    (tmp_path / "3" / "curves.png").mkdir(parents=True)  # job 3's report cannot be written: it fails
    result = app_cli(
        "-m", *GAUSSIAN, "+debug=default", "mixing=replace,fresh", "seed=0,1", f"hydra.sweep.dir={tmp_path}"
    )
    assert result.returncode == 1
    ended = [line for line in result.stdout.splitlines() if line.startswith("job ")]
    assert [line.split(" ended")[0] for line in ended] == [
        "job 0 (mixing=replace seed=0)",
        "job 1 (mixing=replace seed=1)",
        "job 2 (mixing=fresh seed=0)",
    ]
    assert result.stdout.count("each arm's mean [95 % interval] over its chains") == 1
    assert "┃ metric" not in result.stdout  # no job's own summary table
    arms = [line for line in result.stdout.splitlines() if line.startswith("│ mixing=")]
    assert [row.split("│")[1].strip() for row in arms] == ["mixing=replace", "mixing=fresh"]
    assert [row.split("│")[-2].strip() for row in arms] == ["4", "2"]  # job 3's chains are missing
    assert f"sweep report: {tmp_path / 'sweep.html'}" in result.stdout and (tmp_path / "sweep.html").is_file()
    # The page's header names each swept setting's values and counts the chains: never lists them.
    header = (tmp_path / "sweep.html").read_text().split('<p class="meta">')[1].split("</p>")[0]
    assert "mixing: replace, fresh" in header and "chains: 4 per arm (2 seeds of 2)" in header
    assert "replicate:" not in header and "seed:" not in header
    assert "1 of 4 jobs failed" in result.stderr and str(tmp_path / "3") in result.stderr
