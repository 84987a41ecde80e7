"""Crash safety end to end: killed at random moments, a detection run resumes to the uninterrupted values."""

from __future__ import annotations

import random
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, TINY_DETECTION, assert_same_results, completed, run_cli

import collapse_sim as cs

ARGS = [
    *TINY_DETECTION,
    "trainer=yolo_fast",
    "generations=5",
    "warm_start=true",
    "n_samples=32",
    "plots=false",
]


@pytest.mark.slow
def test_random_sigkills_resume_to_exactly_the_uninterrupted_values(tmp_path):
    run_dir, moments = tmp_path / "killed", random.Random(2026)
    kills, seen = 0, []
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-m", "collapse_sim", *ARGS, f"hydra.run.dir={run_dir}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=moments.uniform(1.5, 7.0))  # start-up, training, checkpoints or store writes
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        seen.append(completed(run_dir))
        if (run_dir / "results.zarr").exists():
            # Whatever the moment, open_run shows complete generations only, never a half-written one.
            partial = cs.open_run(run_dir)
            assert bool(partial.completed.all())
            assert partial.sizes["generation"] == 0 or np.isfinite(partial.map50).all()
        if proc.returncode == 0:
            break
    assert kills >= 3, f"only {kills} kills; completed generations after each attempt: {seen}"
    finished = run_cli(*ARGS, f"hydra.run.dir={run_dir}")
    assert finished.returncode == 0, finished.stderr
    whole = run_cli(*ARGS, f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    assert_same_results(cs.open_run(run_dir), cs.open_run(tmp_path / "whole"))
    assert not list(run_dir.rglob("*.tmp"))  # every interrupted write was redone and renamed


def test_a_store_damaged_by_hand_is_reported_and_left_alone(tmp_path):
    from conftest import GAUSSIAN

    run_dir = tmp_path / "run"
    assert run_cli(*GAUSSIAN, "+debug=default", "plots=false", f"hydra.run.dir={run_dir}").returncode == 0
    metadata = run_dir / "results.zarr" / "zarr.json"
    metadata.write_text("{ this is not json")
    result = run_cli(*GAUSSIAN, "+debug=default", "plots=false", f"hydra.run.dir={run_dir}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "results.zarr exists but is not a readable collapse_sim store" in message
    assert "choose a new run directory or move it away" in message
    assert metadata.read_text() == "{ this is not json"


@pytest.fixture
def small_disk(tmp_path):
    """A real 22 MB tmpfs (root only): a disk that fills during a two-chain detection run."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=22m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_a_real_full_disk_shows_one_paragraph_and_a_rerun_with_space_resumes(small_disk):
    args = [
        "+experiment=tail_loss",
        "replicates=2",
        "generations=4",
        "n_samples=16",
        "source.test_size=12",
        "trainer.epochs=1",
        "trainer.batch=8",
        "plots=false",
        f"hydra.run.dir={small_disk / 'run'}",
    ]
    full = run_cli(*args)
    assert full.returncode == 1, full.stderr
    assert full.stderr.count("collapse_sim: error:") == 1, full.stderr
    assert "Traceback" not in full.stderr and "Logging error" not in full.stderr, full.stderr
    message = " ".join(full.stderr.split())
    assert "No space left on device (ENOSPC)" in message and "rerun into" in message
    done = cs.open_run(small_disk / "run").sizes["generation"]  # readable, complete generations only
    assert done < 4
    subprocess.run(["mount", "-o", "remount,size=200m", str(small_disk)], check=True)
    resumed = run_cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {small_disk / 'run'} at generation {done}" in resumed.stdout or done == 0
    assert cs.open_run(small_disk / "run").sizes["generation"] == 4
