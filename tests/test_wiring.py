"""How a run is wired: its job validated and built once, the chains fed from that one build."""

from __future__ import annotations

import ast

from conftest import GAUSSIAN, ROOT

import collapse_sim as cs


def test_a_command_line_run_validates_and_builds_its_job_once(tmp_path, monkeypatch):
    """preflight checks and builds the job; the run in the same process takes that build (no second one)."""
    from collapse_sim import app, preflight

    calls = {"validate": 0, "build": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(preflight, "validate", counted("validate", preflight.validate))
    monkeypatch.setattr(preflight, "build", counted("build", preflight.build))
    monkeypatch.setattr(preflight, "CHECKED", {})
    run_dir = tmp_path / "run"
    argv = ["collapse_sim", *GAUSSIAN, "+debug=default", "plots=false", f"hydra.run.dir={run_dir}"]
    monkeypatch.setattr("sys.argv", argv)
    app.main()
    assert calls == {"validate": 1, "build": 1}
    assert cs.open_run(run_dir).sizes["generation"] == 3


def test_below_the_entry_nothing_builds_or_composes_again():
    """The runner, the runner of chains, a chain, its worker and the loop never call build or Hydra."""
    for module in ("runner", "chains", "chain", "worker", "loop", "tracking"):
        tree = ast.parse((ROOT / "collapse_sim" / f"{module}.py").read_text())
        imported = {
            f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names
        }
        assert "collapse_sim.build.build" not in imported, module
        assert not any(name.startswith(("hydra.", "collapse_sim.preflight")) for name in imported), module
