"""Cluster launchers: submitit's local executor runs a sweep (a failing job included); SLURM composes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import GAUSSIAN, requires_submitit, run_cli

import collapse_sim as cs


@pytest.mark.slow
@requires_submitit
def test_submitit_local_sweep_survives_a_failing_job(tmp_path, app_cli):
    # Job 2's folder already holds a store of another configuration, so that job fails at run time.
    foreign = tmp_path / "2"
    made = app_cli(*GAUSSIAN, "+debug=default", "plots=false", "n_samples=7", f"hydra.run.dir={foreign}")
    assert made.returncode == 0, made.stderr
    result = run_cli(
        "-m",
        "hydra/launcher=submitit_local",
        *GAUSSIAN,
        "+debug=default",
        "plots=false",
        "seed=0,1,2",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 1, result.stderr
    assert "1 of 3 jobs failed" in " ".join(result.stderr.split())
    assert "different configuration" in (foreign / "error.txt").read_text()
    with pytest.warns(UserWarning, match=r"2 \(failed: "):
        sw = cs.open_sweep(tmp_path, pool_seeds=False)
    assert np.isfinite(sw.variance.sel(seed=[0, 1])).all() and np.isnan(sw.variance.sel(seed=2)).all()
    assert (tmp_path / ".submitit").is_dir()  # submitit's own logs stay inside the sweep folder


@requires_submitit
def test_submitit_slurm_launcher_composes_with_partition_settings(tmp_path):
    result = run_cli(
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=1",
        "hydra.launcher.timeout_min=120",
        *GAUSSIAN,
        f"hydra.sweep.dir={tmp_path}",
        "--cfg",
        "hydra",
        "--package",
        "hydra.launcher",
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "submitit_launcher.SlurmLauncher" in text and "partition: gpu" in text
    assert "gpus_per_node: 1" in text and "timeout_min: 120" in text
    assert not any(tmp_path.iterdir())  # composing launches nothing


@pytest.mark.slow
def test_ray_local_cluster_runs_a_sweep(tmp_path):
    # Ray's launcher pins cloudpickle<3, which clashes with joblib in the dev environment: this test
    # runs in an environment made with pip install -e ".[ray]" and is skipped elsewhere.
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="needs pip install -e '.[ray]' (own env)")
    result = run_cli(
        "-m",
        "hydra/launcher=ray",
        *GAUSSIAN,
        "+debug=default",
        "plots=false",
        "seed=0,1",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sw = cs.open_sweep(tmp_path)
    assert sorted(set(sw.seed.values.tolist())) == [0, 1] and bool(sw.completed.all())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1", "multirun.yaml"]  # nothing else here
