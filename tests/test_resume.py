"""Stopping and resuming without bookkeeping: resume=last and resume=DIR take the run's own record, a
refused rerun changes nothing, an unfinished twin is named instead of silently started over."""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import zarr
from conftest import GAUSSIAN, ROOT, SLOW_RUN, assert_same_results, kill_after, one_paragraph, user_env

import collapse_sim as cs
from collapse_sim.progress import attempts_of

TOY = [*GAUSSIAN, "generations=4", "replicates=5", "plots=false"]


def _folder_bytes(folder) -> dict:
    """Every file under ``folder`` and a hash of its bytes (``.hydra/`` included)."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _unfinish(run_dir, kept: int) -> None:
    """Make a finished run's store look like one stopped after ``kept`` generations."""
    completed = zarr.open_group(str(run_dir / "results.zarr"), mode="r+")["completed"]
    completed[kept:] = False


def test_a_rerun_refused_for_another_configuration_leaves_the_folder_byte_identical(tmp_path, app_cli):
    run_dir = tmp_path / "run"
    assert app_cli(*TOY, f"hydra.run.dir={run_dir}").returncode == 0
    before = _folder_bytes(run_dir)
    message = one_paragraph(app_cli(*TOY, "seed=5", f"hydra.run.dir={run_dir}"))
    assert "was made with a different configuration (differs at: seed); nothing was changed" in message
    assert _folder_bytes(run_dir) == before  # .hydra/config.yaml and overrides.yaml still say seed 0


def test_the_same_command_names_its_unfinished_twin_and_resume_last_finishes_it(tmp_path, app_cli):
    # A run killed after two generations, in the folder the command's own runs go to.
    run_dir = tmp_path / "outputs" / "runs" / "default" / "2026-01-01_00-00-00"
    done = kill_after(SLOW_RUN, run_dir, 2, cwd=tmp_path)
    assert 2 <= done < 10
    refused = app_cli(*SLOW_RUN, cwd=tmp_path)
    twin = one_paragraph(refused)
    assert f"resume: an unfinished run of exactly this configuration is in {run_dir} (generations 0-" in twin
    assert "start a new run anyway with resume=never, or resume it with:" in twin
    # The command alone on the last line, as a user copies it: pasted, it is the resume of that folder.
    assert refused.stderr.splitlines()[-1].split() == ["python", "-m", "collapse_sim", f"resume={run_dir}"]
    assert len(list(run_dir.parent.iterdir())) == 1  # nothing started over
    resumed = app_cli("resume=last", "plots=true", cwd=tmp_path)  # plots never change results
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {run_dir} at generation {done} of 10" in resumed.stdout
    whole = app_cli(*SLOW_RUN, f"hydra.run.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    assert_same_results(cs.open_run(run_dir), cs.open_run(tmp_path / "whole"))
    nothing = one_paragraph(app_cli("resume=last", cwd=tmp_path))
    assert "resume: is last, but" in nothing and "holds no unfinished run of default" in nothing
    anew = app_cli(*SLOW_RUN, "generations=2", "resume=never", cwd=tmp_path)
    assert anew.returncode == 0, anew.stderr


def test_a_resume_that_would_change_results_is_refused_naming_the_keys(tmp_path, app_cli):
    run_dir = tmp_path / "run"
    assert app_cli(*TOY, f"hydra.run.dir={run_dir}").returncode == 0
    _unfinish(run_dir, kept=1)
    before = _folder_bytes(run_dir)
    message = one_paragraph(app_cli(f"resume={run_dir}", "seed=5", "n_samples=30"))
    assert (
        f"resume: takes the configuration from {run_dir}'s own record; n_samples, seed would change"
        in message
    )
    assert _folder_bytes(run_dir) == before
    missing = one_paragraph(app_cli(f"resume={tmp_path / 'nowhere'}"))
    assert f"resume: {tmp_path / 'nowhere'} does not exist; give the folder a run or sweep wrote" in missing
    (tmp_path / "empty").mkdir()
    empty = one_paragraph(app_cli(f"resume={tmp_path / 'empty'}"))
    assert "is not a run folder (.hydra/) nor a sweep folder (multirun.yaml)" in empty


def test_a_sweep_resumes_from_its_folder_running_only_its_unfinished_jobs(tmp_path, app_cli):
    sweep = tmp_path / "sweep"
    assert app_cli("-m", *TOY, "seed=0,1,2", f"hydra.sweep.dir={sweep}").returncode == 0
    started = {job: cs.open_run(sweep / job).attrs["started"] for job in ("0", "2")}
    shutil.rmtree(sweep / "1" / "results.zarr")  # job 1 was stopped before its store was made
    resumed = app_cli(f"resume={sweep}")
    assert resumed.returncode == 0, resumed.stderr
    assert {job: cs.open_run(sweep / job).attrs["started"] for job in ("0", "2")} == started
    assert bool(cs.open_sweep(sweep).completed.all())
    # The jobs that were complete had nothing to do: one attempt each, as their pages say.
    assert [len(attempts_of(sweep / job)) for job in ("0", "1", "2")] == [1, 2, 1]


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=user_env()
    )


def test_a_signal_during_a_generation_s_record_waits_for_it_and_a_second_one_ends_at_once():
    deferred = _python(
        "import os, signal; from collapse_sim import stopping\n"
        "stopping.install()\n"
        "try:\n"
        "    with stopping.shielded():\n"
        "        os.kill(os.getpid(), signal.SIGTERM); print('recorded', flush=True)\n"
        "except stopping.Stopped as stopped:\n"
        "    print('stopped', stopped.code)\n"
    )
    assert deferred.stdout.split() == ["recorded", "stopped", "143"]
    twice = _python(
        "import os, signal, time; from collapse_sim import stopping\n"
        "stopping.install()\n"
        "with stopping.shielded():\n"
        "    os.kill(os.getpid(), signal.SIGINT); os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(30); print('waited')\n"
    )
    assert twice.returncode == 130 and "waited" not in twice.stdout


def _hears_signals(pid: int) -> bool:
    """Whether the command has installed its handlers (``stopping.install``): SIGTERM is in the process's
    caught-signal mask (Linux: ``SigCgt`` in its status; Python itself catches SIGINT from the start)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def test_ctrl_c_before_any_work_writes_nothing(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "collapse_sim", *TOY],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env=user_env(PYTHONPATH=str(ROOT)),
    )
    # As soon as the command hears signals it is importing the app: Ctrl-C then lands before any work,
    # however fast the machine.
    deadline = time.time() + 30
    while time.time() < deadline and not _hears_signals(proc.pid):
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err == "collapse_sim: stopped: by Ctrl-C (SIGINT) before any work; nothing was written\n"
    assert not (tmp_path / "outputs").exists()
    np.testing.assert_equal(proc.returncode, 130)


def test_output_that_is_not_a_terminal_shows_a_line_per_generation_and_the_log_keeps_them(tmp_path):
    """Piped (nohup, SLURM, CI): plain lines as the run goes, the same lines timestamped in the log, and the
    summary and report state the wall time."""
    run_dir = tmp_path / "run"
    ran = subprocess.run(
        [sys.executable, "-m", "collapse_sim", *TOY, "plots=true", f"hydra.run.dir={run_dir}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=user_env(),
    )
    assert ran.returncode == 0, ran.stderr
    lines = [line for line in ran.stdout.splitlines() if line.startswith("generation ")]
    assert [line.split(":")[0] for line in lines] == [f"generation {g} of 4" for g in range(4)]
    assert all("; variance " in line and "mean_shift" in line for line in lines)
    log = (run_dir / "collapse_sim.log").read_text().splitlines()
    stamped = [line for line in log if "][INFO] generation " in line]
    assert [line.split("][INFO] ")[1] for line in stamped] == lines and stamped[0].startswith("[20")
    assert "wall time " in ran.stdout and "a generation " in ran.stdout
    assert "wall time " in (run_dir / "report.html").read_text()
    assert cs.open_run(run_dir).sizes["generation"] == 4
