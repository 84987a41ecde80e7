"""How a run is wired: its job validated and built once, the chains fed from that one build."""

from __future__ import annotations

import ast

import yaml
from conftest import GAUSSIAN, ROOT

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
    assert overrides == argv[1:-1]  # the task's overrides; hydra.run.dir is Hydra's own
    assert (run_dir / "collapse_sim.log").exists()


def test_a_sweep_s_jobs_are_validated_and_built_once_each(tmp_path, monkeypatch):
    """In a sweep Hydra composes each job again for its launcher; the job is the one preflight built."""
    from collapse_sim import app

    calls = _counting(monkeypatch)
    argv = ["collapse_sim", "-m", *GAUSSIAN, "+debug=default", "plots=false", "seed=0,1"]
    monkeypatch.setattr("sys.argv", [*argv, f"hydra.sweep.dir={tmp_path}"])
    app.main()
    assert calls["validate"] == 2 and calls["build"] == 2
    assert {cs.open_run(tmp_path / job).attrs["config"]["seed"] for job in ("0", "1")} == {0, 1}


def _imported(module: str) -> set[str]:
    tree = ast.parse((ROOT / "collapse_sim" / f"{module}.py").read_text())
    found = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return found | {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }


def test_below_the_entry_nothing_builds_or_composes_again():
    """The runner, the runner of chains, a chain, its worker and the loop import neither the builder,
    preflight, nor Hydra."""
    for module in ("runner", "chains", "chain", "worker", "loop", "tracking", "simulation"):
        imported = _imported(module)
        forbidden = {"collapse_sim.build", "collapse_sim.preflight", "collapse_sim.hydra_bridge", "hydra"}
        assert not any(name.split(".")[0] == "hydra" or name in forbidden for name in imported), module


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
