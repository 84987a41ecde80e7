"""Crash safety end to end: a damaged store is left alone, a real full disk is one paragraph and a rerun
with space resumes (random kills are in test_chains.py)."""

from __future__ import annotations

import subprocess

import pytest
from conftest import GAUSSIAN, one_paragraph, run_cli

import collapse_sim as cs


def test_a_store_damaged_by_hand_is_reported_and_left_alone(tmp_path, app_cli):
    run_dir = tmp_path / "run"
    assert app_cli(*GAUSSIAN, "+debug=default", "plots=false", f"hydra.run.dir={run_dir}").returncode == 0
    metadata = run_dir / "results.zarr" / "zarr.json"
    metadata.write_text("{ this is not json")
    message = one_paragraph(app_cli(*GAUSSIAN, "+debug=default", "plots=false", f"hydra.run.dir={run_dir}"))
    assert "results.zarr exists but is not a readable collapse_sim store" in message
    assert "choose a new run directory or move it away" in message
    assert metadata.read_text() == "{ this is not json"


@pytest.fixture
def small_disk(tmp_path):
    """A real 12 MB tmpfs (root only): a disk that fills during a run."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_a_real_full_disk_shows_one_paragraph_and_a_rerun_with_space_resumes(small_disk):
    # A toy run that keeps every synthetic set (accumulate): 4 MB of checkpoint a generation fills the
    # disk in generation 2, while finished generations are held for the store (the default flush).
    args = [
        *GAUSSIAN,
        "mixing=accumulate",
        "replicates=1000",
        "n_samples=500",
        "generations=4",
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
    assert 1 <= done < 4
    subprocess.run(["mount", "-o", "remount,size=200m", str(small_disk)], check=True)
    resumed = run_cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {small_disk / 'run'} at generation {done}" in resumed.stdout
    assert cs.open_run(small_disk / "run").sizes["generation"] == 4


def test_a_file_made_once_leaves_no_lock_behind_and_is_made_only_once(tmp_path):
    from collapse_sim.checkpoints import made_once

    made = []

    def make():
        made.append(1)
        return b"weights"

    path = tmp_path / "base" / "base.pt"
    args = (lambda p: p.read_bytes(), make, lambda value, handle: handle.write(value))
    assert made_once(path, *args) == made_once(path, *args) == b"weights"
    assert made == [1] and sorted(p.name for p in path.parent.iterdir()) == ["base.pt"]
