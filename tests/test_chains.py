"""Replicated chains in worker processes: independent, identical whatever their number or the workers,
crash-safe.

The detection run (``whole``) is the reference where warm-started YOLO weights must survive a kill; the
stops, faults and launchers, which are the runner's whatever the family, run on the cheapest family whose
chains run in worker processes (``text_whole``: an n-gram model of a small corpus, a tenth of the cost).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import zarr
from conftest import (
    GAUSSIAN,
    ROOT,
    TWO_CHAINS,
    assert_same_results,
    one_paragraph,
    refused_in_process,
    requires_joblib_launcher,
    run_cli,
    user_env,
)
from test_text import corpus, needs_text, text_run

import collapse_sim as cs
from collapse_sim.api import job as build_job
from collapse_sim.api import stack
from collapse_sim.chains import run_chains
from collapse_sim.components import Generator

# One worker runs this module, so the module's reference run (``whole``) is made once.
pytestmark = pytest.mark.xdist_group("two_chain_run")

CHAINS = [*TWO_CHAINS, "plots=false"]  # the shared run's settings (its reference is `whole`)

FAULTS = '''
"""Injected write faults for collapse_sim tests: FAULT=<where>:<ERRNO>:<nth> (every process, workers too)."""
import errno, os

spec = os.environ.get("COLLAPSE_SIM_FAULT")
if spec:
    where, code, nth = spec.split(":")
    calls = [0]

    def _fault(path):
        calls[0] += 1
        if calls[0] == int(nth):
            raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)), str(path))

    if where == "store":  # a chunk of the results store
        import zarr.storage

        original_set = zarr.storage.LocalStore.set

        async def set(self, key, value):
            if "/c/" in key:
                _fault(os.path.join(str(self.root), key))
            return await original_set(self, key, value)

        zarr.storage.LocalStore.set = set
    else:  # a file renamed into place: weights.pt, synthetic_*.pkl, model_*.pkl
        original_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if where in os.fspath(dst):
                _fault(dst)
            return original_replace(src, dst, *args, **kwargs)

        os.replace = replace
'''


def text_chains(folder: Path, *extra: str) -> list[str]:
    """Two text chains of ten generations (about 0.15 s each) on the corpus in ``folder``, side by side."""
    return text_run(folder, "generations=10", "workers=2", "plots=false", *extra)


@pytest.fixture(scope="module")
def text_whole(tmp_path_factory):
    """The uninterrupted two-chain text run, the reference for every stopped or faulty one; its corpus
    folder is in ``attrs["corpus"]``."""
    folder = corpus(tmp_path_factory.mktemp("text") / "corpus")
    run_dir = folder.parent / "whole"
    result = run_cli(*text_chains(folder), f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    ds = cs.open_run(run_dir)
    ds.attrs["corpus"] = str(folder)
    return ds


@pytest.fixture(scope="module")
def whole(two_chain_run):
    """The shared uninterrupted 2-chain run, the reference for every resumed one."""
    _, run_dir = two_chain_run
    ds = cs.open_run(run_dir)
    ds.attrs["run_dir"] = str(run_dir)  # where its chains' files are
    return ds


class Recorder:
    """A progress display that remembers what it was told."""

    def __init__(self):
        self.epochs, self.chains = [], []

    def epoch(self, chain, generation, epoch, epochs):
        self.epochs.append((chain, generation, epoch, epochs))

    def chain_done(self, chain):
        self.chains.append(chain)


def test_a_chain_is_the_same_whatever_the_number_of_chains_or_workers_and_progress_hears_each(
    whole, tmp_path
):
    # Three chains, two at a time, against the reference's two, over its first two generations (a
    # generation's streams do not depend on how many follow); chains one after another in one process
    # are compared with spawned ones in the joblib test below.
    sim = build_job([*CHAINS, "replicates=3", "workers=2", "generations=2"]).sim
    recorder = Recorder()
    finished = list(run_chains(sim, tmp_path / "three", starts=[0] * 3, progress=recorder))
    # The caller hears every generation of every chain, the display every epoch and every chain's end.
    assert sorted((d.chain, d.generation) for d in finished) == [(c, g) for c in range(3) for g in range(2)]
    assert sorted(recorder.epochs) == [(c, g, 1, 1) for c in range(3) for g in range(2)]
    assert sorted(recorder.chains) == [0, 1, 2]
    three = stack(finished, vectorised=False)
    assert three.sizes["replicate"] == 3 and three.ap50_95.dims == ("generation", "replicate", "class")
    # Chains differ in every draw after the shared real world: their training sets differ.
    assert len(set(three.dataset_hash.isel(generation=-1).values)) == 3
    for name in ("map50_95", "class_frequency", "box_size_distance", "dataset_hash", "recall"):
        np.testing.assert_array_equal(
            three[name].isel(replicate=[0, 1]).values,
            whole[name].isel(generation=[0, 1]).values,
            err_msg=name,
        )


def test_each_chain_keeps_its_files_in_its_own_folder(whole):
    run_dir = Path(whole.attrs["run_dir"])
    for chain in (0, 1):
        folder = run_dir / f"chain_{chain:02d}"
        assert (folder / "generations" / "000" / "weights.pt").is_file()
        assert (folder / "generations" / "000" / "train_log.csv").is_file()
    assert not (run_dir / "generations").exists()


def _children(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
        return [p for p in children if "spawn_main" in " ".join(p.cmdline())]  # not the resource tracker
    except psutil.NoSuchProcess:
        return []


@pytest.mark.slow
def test_killed_three_times_at_random_moments_a_run_resumes_to_the_uninterrupted_values(
    whole, tmp_path, app_cli
):
    """SIGKILL a worker, the parent, and a one-process run (workers=1), each at a random moment (start-up,
    training, checkpoints or store writes); open_run never shows half a generation, and the run, finished
    with two workers, equals the uninterrupted one."""
    run_dir, moments = tmp_path / "killed", random.Random(12)
    env = user_env()
    for victim in ("worker", "parent", "one process"):
        workers = "workers=1" if victim == "one process" else "workers=2"
        args = [
            sys.executable,
            "-m",
            "collapse_sim",
            *CHAINS,
            "replicates=2",
            workers,
            f"hydra.run.dir={run_dir}",
        ]
        proc = subprocess.Popen(
            args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
        )
        if victim == "one process":
            try:
                proc.wait(timeout=moments.uniform(1.5, 6.0))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        else:
            started = time.time()
            while not _children(proc.pid) and proc.poll() is None and time.time() - started < 60:
                time.sleep(0.05)
            time.sleep(moments.uniform(0.5, 3.0))
            chains = _children(proc.pid)
            assert proc.poll() is None and len(chains) == 2, "the run ended before it could be killed"
        if victim == "worker":
            chains[moments.randrange(2)].send_signal(signal.SIGKILL)
            _, stderr = proc.communicate(timeout=120)
            assert proc.returncode == 1, stderr
            message = " ".join(stderr.split())
            assert "stopped during generation" in message and "(killed by SIGKILL)" in message
            assert "Traceback" not in stderr and f"rerun into {run_dir} to resume" in message
        elif victim == "parent":
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            time.sleep(0.5)
            assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in chains)
        if (run_dir / "results.zarr").exists():
            partial = cs.open_run(run_dir)
            assert bool(partial.completed.all())
            assert partial.sizes["generation"] == 0 or np.isfinite(partial.map50.values).all()
    finished = app_cli(*CHAINS, "replicates=2", "workers=2", f"hydra.run.dir={run_dir}")
    assert finished.returncode == 0, finished.stderr
    assert_same_results(cs.open_run(run_dir), whole)
    assert not list(run_dir.rglob("*.tmp"))  # every interrupted write was redone and renamed


def _stop_after_first_generation(folder: Path, signum: int, args: list[str]) -> subprocess.CompletedProcess:
    """The command of ``args`` started in ``folder`` (its default, timestamped run folder), sent ``signum``
    once a chain has finished a generation: SIGINT to its whole process group, as a terminal's Ctrl-C is;
    SIGTERM to the parent alone, as ``kill`` or a container stop."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "collapse_sim", *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=user_env(),
        start_new_session=True,
    )
    began = time.time()
    while time.time() - began < 120 and proc.poll() is None:
        stores = list(folder.glob("outputs/runs/*/*/results.zarr"))
        try:
            if stores and np.asarray(zarr.open_group(stores[0], mode="r")["chain_completed"][:]).any():
                break
        except (KeyError, FileNotFoundError, ValueError):
            pass  # the store is being laid out
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be stopped"
    workers = _children(proc.pid)
    os.killpg(proc.pid, signum) if signum == signal.SIGINT else proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    time.sleep(0.5)
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers), "orphans"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code", "said", "resume"),
    [
        (signal.SIGINT, 130, "Ctrl-C (SIGINT)", None),
        (signal.SIGTERM, 143, "SIGTERM", "resume=DIR"),
    ],
)
@needs_text
def test_a_stopped_run_says_what_it_kept_and_how_to_resume_and_resumes_to_the_same_values(
    text_whole, tmp_path, app_cli, signum, code, said, resume
):
    stopped = _stop_after_first_generation(tmp_path, signum, text_chains(Path(text_whole.attrs["corpus"])))
    (run_dir,) = (tmp_path / "outputs" / "runs" / text_whole.attrs["name"]).iterdir()
    message = one_paragraph(stopped, code=code)
    assert stopped.stderr.startswith("collapse_sim: stopped: the run was stopped by " + said)
    assert f"kept in {run_dir / 'results.zarr'}" in message and "of chain 0" in message
    assert stopped.stderr.endswith(f"Resume it with:\n    python -m collapse_sim resume={run_dir}\n")
    partial = cs.open_run(run_dir)
    assert bool(partial.completed.all()) and partial.sizes["generation"] < 10
    assert (run_dir / ".hydra" / "overrides.yaml").is_file()
    if resume is None:
        return  # resume=last of a stopped run: tests/test_resume.py
    finished = app_cli(f"resume={run_dir}", cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert_same_results(cs.open_run(run_dir), text_whole)


def _faulty_run(tmp_path, run_dir, fault: str, args: list[str]):
    (tmp_path / "faults").mkdir(exist_ok=True)
    (tmp_path / "faults" / "sitecustomize.py").write_text(FAULTS)
    env = user_env(PYTHONPATH=str(tmp_path / "faults"), COLLAPSE_SIM_FAULT=fault)
    return subprocess.run(
        [sys.executable, "-m", "collapse_sim", *args, f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


# A full disk while checkpoints are written is covered for real (a small tmpfs) by test_crash_safety.
@pytest.mark.parametrize(
    ("fault", "workers", "named"),
    [
        ("synthetic_:EIO:2", 2, "Input/output error (EIO)"),  # a checkpoint renamed into place, in a worker
        ("store:ENOSPC:60", 1, "results.zarr/"),  # a chunk of the store, in the one writer
    ],
)
@needs_text
def test_a_full_disk_or_io_error_is_reported_and_a_rerun_resumes(
    text_whole, tmp_path, fault, workers, named, app_cli
):
    run_dir, args = tmp_path / "run", text_chains(Path(text_whole.attrs["corpus"]), f"workers={workers}")
    failed = _faulty_run(tmp_path, run_dir, fault, args)
    message = " ".join(failed.stderr.split())
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr, failed.stderr
    assert named in message
    assert "Every complete generation" in message or "every generation complete" in message.lower()
    partial = cs.open_run(run_dir)  # readable, complete generations only (of every chain)
    assert bool(partial.completed.all()) and partial.sizes["generation"] < 10
    recorded = np.asarray(zarr.open_group(run_dir / "results.zarr", mode="r")["chain_completed"][:])
    assert recorded.any() and not recorded.all()  # the fault came after some of a chain's generations
    for name in ("test_bits_per_char", "text_sample"):
        np.testing.assert_array_equal(
            partial[name].values,
            text_whole[name].isel(generation=slice(0, partial.sizes["generation"])).values,
        )
    resumed = app_cli(*args, f"hydra.run.dir={run_dir}")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_results(cs.open_run(run_dir), text_whole)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["workers=0"], "workers: must be auto (one chain per free core) or an integer >= 1"),
        (["replicates=2", "workers=3"], "workers: is 3 but the run has only replicates=2 chains"),
        (["replicates=64", "workers=64"], "workers: is 64, and each chain trains with trainer.threads=1"),
        ([*GAUSSIAN, "workers=2"], "runs its 2 replicates vectorised in one process"),
    ],
)
def test_bad_chain_settings_stop_before_any_work(tmp_path, monkeypatch, capsys, overrides, expected):
    run_dir = tmp_path / "run"
    assert expected in refused_in_process([*overrides, f"hydra.run.dir={run_dir}"], monkeypatch, capsys)
    assert not run_dir.exists()


@needs_text
def test_chains_that_do_not_fit_the_memory_are_refused(monkeypatch, tmp_path):
    import collapse_sim.capacity as capacity
    from collapse_sim.errors import ConfigError

    monkeypatch.setattr(capacity, "available_memory", lambda: int(2e9))
    with pytest.raises(ConfigError, match=r"workers: 2 chains at once need about 2\.\d GB of memory"):
        build_job([*CHAINS, "replicates=4", "workers=2"])
    with pytest.raises(ConfigError, match=r"replicates: replicates=100000 needs about .* GB of memory"):
        build_job([*GAUSSIAN, "replicates=100000", "n_samples=1000"])
    # A text chain's trainer says what its process needs: the decoder's does not fit, the n-gram's does.
    from test_text import corpus, text_run

    text = [*text_run(corpus(tmp_path / "corpus")), "trainer=tiny_gpt", "workers=2"]
    with pytest.raises(ConfigError, match=r"workers: 2 chains at once need about 3\.\d GB of memory"):
        build_job(text)
    assert build_job([*text, "trainer=ngram"]).sim.chains.workers == 2
    # A generator that trains a model of its own is counted as a trainer is: the sprite VAE's 0.1 GB per
    # chain tips two chains over a budget the identity control fits in.
    vae = ["+experiment=artefact_amplification", "n_samples=16", "workers=2"]
    monkeypatch.setattr(capacity, "available_memory", lambda: int(1e12))
    sim = build_job(vae).sim
    kept = sim.mixing.history_window + 2  # as plan_chains counts the synthetic sets a chain holds
    estimate = capacity._chain_bytes(sim.source, sim.trainer, sim.generator, sim.n_samples, kept)
    assert (
        estimate - capacity._chain_bytes(sim.source, sim.trainer, Generator(), sim.n_samples, kept) == 0.1e9
    )
    monkeypatch.setattr(capacity, "available_memory", lambda: int(2 * estimate / capacity.HEADROOM) - 1)
    with pytest.raises(ConfigError, match=r"workers: 2 chains at once need about"):
        build_job(vae)
    assert build_job([*vae, "generator=sprite_paste"]).sim.chains.workers == 2


@pytest.mark.slow
@requires_joblib_launcher
@needs_text
def test_chains_inside_a_joblib_sweep_run_in_the_job_to_the_same_values(text_whole, tmp_path):
    """joblib's (loky) workers cannot spawn chain workers; the chains then run in the job itself."""
    one = text_chains(Path(text_whole.attrs["corpus"]), "generations=2")
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *one, "seed=0,1", f"hydra.sweep.dir={sweep}"
    )
    assert result.returncode == 0, result.stderr
    in_job = cs.open_run(sweep / "0")
    spawned = text_whole.isel(generation=[0, 1])  # the reference's chains ran in spawned workers; seed 0 too
    for name in ("test_bits_per_char", "text_sample", "types"):
        np.testing.assert_array_equal(in_job[name].values, spawned[name].values, err_msg=name)
