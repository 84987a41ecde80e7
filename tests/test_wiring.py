"""How a run is wired: its job validated and built once, the chains fed from that one build."""

from __future__ import annotations

import yaml
from conftest import GAUSSIAN

import collapse_sim as cs


def _counting(monkeypatch) -> dict[str, int]:
    """Count compositions, validations and builds in this process."""
    from collapse_sim import hydra_bridge, job

    calls = {"compose": 0, "validate": 0, "build": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(hydra_bridge, "compose", counted("compose", hydra_bridge.compose))
    monkeypatch.setattr(job, "validate", counted("validate", job.validate))
    monkeypatch.setattr(job, "build", counted("build", job.build))
    return calls


def test_a_command_line_run_is_composed_validated_and_built_once(tmp_path, monkeypatch):
    """preflight composes, checks and builds the job; Hydra runs that very job (no second composition)."""
    from collapse_sim import app

    calls = _counting(monkeypatch)
    run_dir = tmp_path / "run"
    argv = ["collapse_sim", *GAUSSIAN, "+debug=default", "plots=false", f"hydra.run.dir={run_dir}"]
    monkeypatch.setattr("sys.argv", argv)
    app.main()
    assert calls == {"compose": 1, "validate": 1, "build": 1}
    assert cs.open_run(run_dir).sizes["generation"] == 3
    # Hydra's own record of the job, as hydra.main writes it
    overrides = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    # the task's overrides, +debug read as debug (as a resume composes them again); hydra.run.dir is Hydra's
    assert overrides == [o.removeprefix("+") for o in argv[1:-1]]
    assert (run_dir / "collapse_sim.log").exists()


def test_a_sweep_s_jobs_are_composed_validated_and_built_once_each(tmp_path, monkeypatch):
    """The sweep's own configuration is composed once, and each job once: its launcher runs the jobs
    composed and built up front, in the one sweep folder."""
    from collapse_sim import app

    calls = _counting(monkeypatch)
    argv = ["collapse_sim", "-m", *GAUSSIAN, "+debug=default", "plots=false", "seed=0,1,2"]
    monkeypatch.setattr("sys.argv", [*argv, f"hydra.sweep.dir={tmp_path}"])
    app.main()
    assert calls == {"compose": 1 + 3, "validate": 3, "build": 3}
    assert {cs.open_run(tmp_path / job).attrs["config"]["seed"] for job in ("0", "1", "2")} == {0, 1, 2}
    multirun = yaml.safe_load((tmp_path / "multirun.yaml").read_text())
    assert multirun["hydra"]["overrides"]["task"] == [o.removeprefix("+") for o in argv[2:]]  # as Hydra saves
    assert yaml.safe_load((tmp_path / "1" / ".hydra" / "hydra.yaml").read_text())["hydra"]["job"]["num"] == 1


def test_a_resumed_run_is_composed_and_built_once(tmp_path, monkeypatch):
    """``resume=DIR`` reads the run's own record: the job is composed once and built once."""
    from collapse_sim import app

    run_dir = tmp_path / "run"
    monkeypatch.setattr("sys.argv", ["collapse_sim", *GAUSSIAN, "plots=false", f"hydra.run.dir={run_dir}"])
    app.main()
    calls = _counting(monkeypatch)
    monkeypatch.setattr("sys.argv", ["collapse_sim", f"resume={run_dir}"])
    app.main()
    assert calls == {"compose": 1, "validate": 1, "build": 1}


HEAVY = ("collapse_sim.build", "collapse_sim.job", "collapse_sim.preflight", "collapse_sim.hydra_bridge")


def _loaded_after(code: str) -> list[str]:
    """What a fresh interpreter has loaded of Hydra and the builder after running ``code``: the whole
    transitive closure, not only the direct imports."""
    import subprocess
    import sys

    probe = (
        f"{code}\nimport sys; print(sorted({{m for m in sys.modules"
        f" if m.split('.')[0] == 'hydra' or m in {HEAVY!r}}}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])


def test_below_the_entry_nothing_builds_or_composes_again():
    """The runner, the runner of chains, a chain, its worker and the loop load neither the builder,
    preflight, nor Hydra: not directly, and not through anything they import."""
    modules = ("runner", "chains", "chain", "worker", "loop", "tracking", "simulation")
    assert _loaded_after("; ".join(f"import collapse_sim.{m}" for m in modules)) == []


def test_readers_load_no_hydra_nor_the_builder(tmp_path, app_cli):
    """A notebook that opens a run, a sweep, its collapse rate, a tracker or a report stays light."""
    sweep = tmp_path / "sweep"
    ran = app_cli("-m", *GAUSSIAN, "generations=3", "plots=false", "seed=0,1", f"hydra.sweep.dir={sweep}")
    assert ran.returncode == 0, ran.stderr
    code = (
        "import collapse_sim as cs\n"
        f"ds = cs.open_run({str(sweep / '0')!r})\n"
        f"assert set(cs.open_sweep({str(sweep)!r}).seed.values.tolist()) == {{0, 1}}\n"
        "cs.collapse_rate(ds, 'variance')\n"
        "import collapse_sim.report, collapse_sim.reporting.html, collapse_sim.reporting.run\n"
        "import collapse_sim.loggers.mlflow_logger, collapse_sim.loggers.tensorboard_logger\n"
        "import collapse_sim.loggers.wandb_logger"
    )
    assert _loaded_after(code) == []


def test_a_chain_worker_starts_without_hydra_or_the_builder():
    """A spawned chain worker unpickles the simulation: that must not import Hydra or the builder."""
    import subprocess
    import sys

    code = (
        "import pickle, sys; from collapse_sim.api import job;"
        "data = pickle.dumps(job(['+experiment=gaussian_collapse']).sim);"
        "[sys.modules.pop(m) for m in list(sys.modules) if m.startswith(('hydra', 'collapse_sim.build',"
        " 'collapse_sim.preflight', 'collapse_sim.job', 'collapse_sim.api', 'omegaconf'))];"
        "import collapse_sim.chain, collapse_sim.worker; pickle.loads(data);"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('hydra')}"
        " | {m for m in sys.modules if m in ('collapse_sim.build', 'collapse_sim.preflight')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
