"""Every option of every group composes, builds and runs; every experiment runs under debug."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collapse_sim.api import compose_config, run
from collapse_sim.build import build
from collapse_sim.config import GROUPS, validate

CONF = Path(__file__).resolve().parent.parent / "conf"

# One compatible set of choices per family; each group option must appear in one.
FAMILIES = {
    "gaussian": dict(source="gaussian", generator="refit_sample", trainer="gaussian_fit", metrics="gaussian"),
    "gmm": dict(source="gmm", generator="refit_sample", trainer="gmm_fit", metrics="gaussian"),
    "zipf": dict(source="zipf", generator="refit_sample", trainer="categorical_fit", metrics="classes"),
    "linreg": dict(source="linreg", generator="relabel", trainer="ols", metrics="regression"),
}
MIXINGS = sorted(p.stem for p in (CONF / "mixing").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_every_option_is_covered_by_a_family():
    for group in ("source", "generator", "trainer", "metrics"):
        assert set(options(group)) == {f[group] for f in FAMILIES.values()}, group


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("mixing", MIXINGS)
def test_option_builds_and_runs(family, mixing):
    overrides = [f"{g}={o}" for g, o in FAMILIES[family].items()] + [
        f"mixing={mixing}",
        "+debug=default",
    ]
    cfg = compose_config(overrides)
    resolved = validate(cfg)
    sim = build(resolved, {k: v for k, v in cfg.hydra.runtime.choices.items() if k in GROUPS})
    assert sim.source.family == sim.trainer.family
    ds = run(overrides + ["replicates=3"])
    assert ds.sizes["generation"] == 3 and bool(ds.real_fraction[0] == 1.0)
    assert all(np.isfinite(ds[v]).all() for v in ds.data_vars)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_under_debug(experiment):
    cfg = compose_config([f"+experiment={experiment}"])
    assert cfg.name == experiment
    ds = run([f"+experiment={experiment}", "+debug=default"])
    assert ds.sizes["generation"] == 3 and ds.attrs["config"]["name"] == experiment


def test_experiment_names_from_design_exist():
    for name in (
        "gaussian_collapse",
        "accumulate_vs_replace",
        "fresh_data",
        "zipf_tail",
        "linreg_accumulate",
    ):
        assert name in EXPERIMENTS


def test_experiment_and_debug_accept_both_spellings():
    a = compose_config(["+experiment=zipf_tail", "+debug=default"])
    b = compose_config(["experiment=zipf_tail", "debug=default"])
    assert a.generations == b.generations == 3 and a.source == b.source
