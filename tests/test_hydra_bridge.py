"""What collapse_sim reads from the installed Hydra and OmegaConf (``hydra_bridge``): an upgrade that
changes any of it fails here."""

from __future__ import annotations

import pytest
import yaml
from conftest import GAUSSIAN

from collapse_sim import hydra_bridge
from collapse_sim.config import register_schema


def _composition_error(overrides):
    from hydra.errors import HydraException

    register_schema()
    with pytest.raises(HydraException) as raised:
        hydra_bridge.compose(overrides)
    return raised.value


def test_hydra_s_parser_still_has_the_flags_collapse_sim_reads():
    parsed = hydra_bridge.parse_command_line(["-m", "--config-dir", "/x", "seed=1,2", "--cfg", "job"])
    assert parsed.multirun and parsed.config_dir == "/x" and parsed.overrides == ["seed=1,2"]
    assert parsed.cfg == "job" and all(hasattr(parsed, flag) for flag in hydra_bridge.INSPECTING)
    assert hydra_bridge.inspects(parsed) and not hydra_bridge.inspects(hydra_bridge.parse_command_line([]))


def test_hydra_s_missing_option_error_still_carries_the_group_and_its_options():
    from hydra.errors import MissingConfigException

    error = _composition_error(["mixing=nope"])
    assert isinstance(error, MissingConfigException) and error.missing_cfg_file == "mixing/nope"
    assert "replace" in error.options and "accumulate" in error.options


def test_hydra_s_unknown_key_and_wrong_type_errors_still_carry_the_key():
    from omegaconf.errors import ConfigAttributeError, ValidationError

    unknown = _composition_error(["source.nope=1"]).__cause__
    assert isinstance(unknown, ConfigAttributeError) and unknown.full_key == "source.nope"
    typed = _composition_error(["generations=abc"]).__cause__
    assert isinstance(typed, ValidationError) and typed.full_key == "generations"
    # The one message read from text: OmegaConf's conversion error.
    assert hydra_bridge.converted_type(str(typed).splitlines()[0]) == ("abc", "str", "Integer")


def test_a_key_the_command_line_deletes_is_not_swept_by_the_experiment():
    register_schema()
    _, jobs = hydra_bridge.sweep_jobs(
        ["experiment=filtered_web", "mixing=importance", "~mixing.tpr", "~mixing.fpr", "mixing.auc=0.5,0.9"]
    )
    assert len(jobs) == 2  # the experiment sweeps mixing.tpr over six values, which importance lacks
    assert not [o for job in jobs for o in job if o.startswith("mixing.tpr")]


def test_a_sweep_expands_as_hydra_s_basic_sweeper_runs_it():
    register_schema()
    _, jobs = hydra_bridge.sweep_jobs(["experiment=accumulate_vs_replace", "seed=0,1"])
    # The experiment's own sweep (hydra.sweeper.params) first, then the command line's.
    assert len(jobs) == 6 and jobs[0] == ["mixing=replace", "experiment=accumulate_vs_replace", "seed=0"]
    assert [j[0] for j in jobs[::2]] == ["mixing=replace", "mixing=accumulate", "mixing=accumulate_subsample"]
    _, given = hydra_bridge.sweep_jobs(["experiment=accumulate_vs_replace", "mixing=accumulate"])
    assert given == [["mixing=accumulate", "experiment=accumulate_vs_replace"]]  # the command line's wins


def test_one_composed_job_runs_as_hydra_main_runs_it(tmp_path):
    """``run_composed`` writes what ``hydra.main`` writes for a run: ``.hydra/`` with the job's config,
    Hydra's and the overrides, and the job's log file; the task sees Hydra's runtime."""
    from hydra.core.hydra_config import HydraConfig

    register_schema()
    overrides = [*GAUSSIAN, "seed=3", f"hydra.run.dir={tmp_path / 'run'}"]
    cfg = hydra_bridge.compose(overrides)
    seen = {}

    def task(job_cfg):
        seen["seed"], seen["dir"] = job_cfg.seed, HydraConfig.get().runtime.output_dir

    hydra_bridge.run_composed(cfg, task)
    run = tmp_path / "run"
    assert seen == {"seed": 3, "dir": str(run)}
    assert yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text()) == overrides[:-1]
    assert yaml.safe_load((run / ".hydra" / "config.yaml").read_text())["seed"] == 3
    assert yaml.safe_load((run / ".hydra" / "hydra.yaml").read_text())["hydra"]["mode"] == "RUN"
    assert (run / "collapse_sim.log").exists()


def test_a_task_s_exception_is_raised_by_run_composed(tmp_path):
    register_schema()
    cfg = hydra_bridge.compose([*GAUSSIAN, f"hydra.run.dir={tmp_path}"])

    def task(_):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        hydra_bridge.run_composed(cfg, task)


def test_a_sweep_s_jobs_share_its_folder_whenever_they_are_composed():
    """The sweep folder's ${now:...} is resolved once, for the sweep; a job composed a second later (a
    large sweep takes that) still lands in it, numbered as its launcher numbers it."""
    import time

    register_schema()
    sweep, jobs = hydra_bridge.sweep_jobs([*GAUSSIAN, "seed=0,1"])
    time.sleep(1.1)  # the timestamp's resolution is a second
    cfg = hydra_bridge.compose_job(jobs[1], sweep, 1)
    assert str(cfg.hydra.sweep.dir) == str(sweep.hydra.sweep.dir)
    assert cfg.hydra.job.num == 1 and str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert list(sweep.hydra.overrides.task) == [*GAUSSIAN, "seed=0,1"]  # the sweep's own command


def test_a_stop_during_composition_is_a_stop_not_a_setting(monkeypatch):
    """Ctrl-C while Hydra composes surfaces as the stop, whatever error Hydra raised while handling it."""
    import signal

    from hydra.errors import ConfigCompositionException

    from collapse_sim.stopping import Stopped

    def interrupted(overrides):
        try:
            raise Stopped(signal.SIGINT)
        except Stopped as stop:
            raise ConfigCompositionException("Error merging override root.handlers") from stop

    monkeypatch.setattr(hydra_bridge, "compose", interrupted)
    with pytest.raises(Stopped):
        hydra_bridge.compose_explained(["seed=1"])
