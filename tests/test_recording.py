"""A vectorised run holds its finished generations and writes them in batches: what that keeps and loses."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import xarray as xr

import collapse_sim as cs
from collapse_sim.checkpoints import Checkpoints
from collapse_sim.loop import Generation
from collapse_sim.recording import Recorder
from collapse_sim.store import RunStore, open_run
from collapse_sim.tracking import Trackers
from tests.conftest import (
    GAUSSIAN,
    ROOT,
    assert_same_results,
    completed,
    kill_after,
    logged,
    one_paragraph,
    run_cli,
    user_env,
)

ATTRS = {"config": {"generations": 40, "source": {"dim": 1}}, "name": "t"}


def results(value: float) -> xr.Dataset:
    return xr.Dataset(
        {
            "v": (("replicate", "class"), np.full((3, 2), value), {"units": "1", "description": "d"}),
            "label": ("replicate", np.array([f"l{value:g}"] * 3), {"units": "1", "description": "text"}),
            "count": ("replicate", np.arange(3) + int(value), {"units": "1", "description": "ints"}),
        },
        coords={"class": np.array(["a", "b"], dtype=object)},
    )


def recorder_for(run_dir, flush_s: float) -> Recorder:
    store, start = RunStore.open_or_create(run_dir, generations=40, attrs=ATTRS, batched=True)
    trackers = Trackers({}, run_dir, per_chain=False)
    return Recorder(store, trackers, run_dir, flush_s=flush_s, history_window=1, start=start)


def test_held_generations_are_written_at_a_flush_and_read_as_the_store_reads_them(tmp_path):
    recorder = recorder_for(tmp_path, flush_s=3600.0)
    for generation in range(25):
        recorder.record(Generation(0, generation, results(generation)), None)
    assert not (tmp_path / "results.zarr").exists()  # held: nothing written before the flush
    recorder.flush()
    for generation in range(25, 40):
        recorder.record(Generation(0, generation, results(generation)), None)
    recorder.flush()
    stored = open_run(tmp_path).load()
    assert completed(tmp_path) == 40
    xr.testing.assert_identical(recorder.results(), stored)
    assert stored.label.values[7, 0] == "l7" and stored.v.values[39, 2, 1] == 39.0
    # A batched store keeps many generations a chunk: a reader opens a few files, not one per generation.
    assert xr.open_zarr(tmp_path / "results.zarr").v.encoding["chunks"][0] == 40


def test_checkpoints_a_resume_needs_are_kept_until_the_store_holds_their_generations(tmp_path):
    folder = Checkpoints(tmp_path, history_window=2, prune=False)
    for generation in range(6):
        folder.save(generation, results(generation), model={"g": generation})
        folder.prune(generation)  # held generations: nothing may go yet
    assert len(list(folder.folder.glob("*.pkl"))) == 12
    folder.keep_from(4)  # the store holds 0-3: a resume at 4 reads synthetic 2, 3 and model 3
    names = sorted(p.name for p in folder.folder.glob("*.pkl"))
    assert names == [
        *(f"model_{g:05d}.pkl" for g in (3, 4, 5)),
        *(f"synthetic_{g:05d}.pkl" for g in (2, 3, 4, 5)),
    ]
    assert [s.v.values[0, 0] for s in folder.history(4)] == [2.0, 3.0]


# Slow enough (about 50 ms a generation, more under load) that a flush every 0.3 s leaves several
# generations held at most moments.
HELD_RUN = (
    *GAUSSIAN,
    "source=gmm",
    "trainer=gmm_fit",
    "generations=20",
    "replicates=4",
    "n_samples=100",
    "plots=false",
)


def test_a_kill_between_flushes_loses_only_held_generations_and_a_resume_recomputes_them(tmp_path):
    reference = run_cli(*HELD_RUN, "store_flush_s=0", f"hydra.run.dir={tmp_path / 'ref'}")
    assert reference.returncode == 0, reference.stderr
    killed = tmp_path / "killed"
    kept = kill_after([*HELD_RUN, "store_flush_s=0.3"], killed, 1, held=2, timeout=120)
    finished = logged(killed)
    assert 1 <= kept < finished < 20  # killed between flushes, with finished generations not yet written
    resumed = run_cli(*HELD_RUN, "store_flush_s=0.3", f"hydra.run.dir={killed}")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {killed} at generation {kept} of 20" in resumed.stdout
    assert_same_results(cs.open_run(tmp_path / "ref"), cs.open_run(killed))


def test_a_stopped_run_writes_every_generation_it_finished(tmp_path):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "collapse_sim", *HELD_RUN, "store_flush_s=3600", f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=user_env(),
    )
    while logged(run_dir) < 3 and proc.poll() is None:
        time.sleep(0.01)
    assert completed(run_dir) == 0  # every finished generation is held
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    kept = completed(run_dir)
    assert kept == logged(run_dir) >= 3
    assert f"generations 0-{kept - 1} of 20 are kept" in err


def test_a_flush_interval_that_is_not_seconds_is_one_paragraph(tmp_path, app_cli):
    for bad, says in (("-1", "a number of seconds >= 0"), ("soon", "must be of type float")):
        message = one_paragraph(app_cli(*GAUSSIAN, f"store_flush_s={bad}", f"hydra.run.dir={tmp_path}"))
        assert message.startswith("collapse_sim: error: store_flush_s: ") and says in message
    assert not (tmp_path / "results.zarr").exists()


def test_held_generations_a_full_disk_will_not_take_are_named_beside_the_fault(tmp_path, monkeypatch):
    import errno

    import pytest

    from collapse_sim.errors import RunFailure, stopped
    from collapse_sim.runner import finally_written

    recorder = recorder_for(tmp_path, flush_s=3600.0)
    for generation in range(3):
        recorder.record(Generation(0, generation, results(generation)), None)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recorder.store, "write_generations", full_disk)
    with pytest.raises(RunFailure) as caught, finally_written(recorder, tmp_path):
        raise stopped("stopped in generation 3: No space left on device (ENOSPC)", tmp_path)
    assert str(caught.value).startswith(
        "stopped in generation 3: No space left on device (ENOSPC); generations 0-2, finished, could not be "
        "written either (No space left on device (ENOSPC)), so a rerun recomputes them."
    )
