"""The warning stated: the first generation at which a class fell below generation 0 by more than the drop
tolerated, with its confidence over chains; per arm and as the smallest safe setting in a sweep."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import one_paragraph

from collapse_sim.reporting.verdict import verdict

CATEGORICAL = ["source=zipf", "generator=refit_sample", "trainer=categorical_fit", "metrics=classes"]
WATCH = ["warning.variable=surviving_classes", "warning.drop=5", "n_samples=100", "plots=false"]


def constructed(fall: float, chains: int = 8, at: int = 2) -> xr.Dataset:
    """Three classes over four generations; class b drops by ``fall`` from generation ``at`` on, each chain
    with noise of 0.01."""
    rng = np.random.default_rng(0)
    values = 0.6 + 0.01 * rng.standard_normal((4, chains, 3))
    values[at:, :, 1] -= fall
    ds = xr.Dataset(
        {"ap50_95": (("generation", "replicate", "class"), values)},
        coords={"generation": np.arange(4), "class": ["a", "b", "c"]},
    )
    ds.attrs["config"] = {"warning": {"variable": "ap50_95", "drop": 0.05, "confidence": 0.95}}
    return ds


def test_a_class_that_fell_past_the_drop_is_named_at_the_generation_it_did():
    found = verdict(constructed(0.1))
    assert found.generation == 2 and [f.label for f in found.falls] == ["b"]
    assert found.falls[0].high < -0.05 and abs(found.falls[0].mean + 0.1) < 0.02
    assert found.sentence().startswith(
        "warning: at generation 2 ap50_95 fell more than 0.05 below generation 0"
    )
    assert "b -0.09" in found.sentence() and "8 chains" in found.sentence()


def test_a_fall_within_the_drop_or_too_few_chains_states_none():
    within = verdict(constructed(0.04))
    assert within.generation is None and within.held
    assert "no class's ap50_95 fell more than 0.05" in within.sentence()
    few = verdict(constructed(0.3, chains=2))
    assert not few.held and "2 chains give no interval" in few.sentence()
    assert verdict(constructed(0.1).rename({"ap50_95": "map50"})) is None  # the run does not record it


def test_a_run_states_its_warning_in_the_summary_and_on_its_page(tmp_path, app_cli):
    ran = app_cli(*CATEGORICAL, *WATCH, "replicates=50", "generations=8", f"hydra.run.dir={tmp_path}")
    assert ran.returncode == 0, ran.stderr
    (line,) = [x for x in ran.stdout.splitlines() if x.startswith("warning:")]
    # Faithful refits of 17.5 classes lose 5 of them in expectation between generations 3 and 4.
    assert line.startswith("warning: at generation 4 surviving_classes fell more than 5"), line
    assert line in (tmp_path / "report.html").read_text()


def test_a_sweep_names_the_smallest_real_share_that_held_every_class(tmp_path, app_cli):
    arms = ["mixing=fresh", "mixing.real_fraction=0,0.5", "replicates=30", "generations=8"]
    ran = app_cli("-m", *CATEGORICAL, *WATCH, *arms, f"hydra.sweep.dir={tmp_path}")
    assert ran.returncode == 0, ran.stderr
    said = [x for x in ran.stdout.splitlines() if x.startswith("warning:")]
    assert said[0].startswith("warning: real_fraction=0.0: at generation")
    assert said[1].startswith("warning: real_fraction=0.5: surviving_classes did not fall more than 5")
    smallest = "the smallest real_fraction that kept every class within 5 of generation 0 for the whole run"
    assert said[2] == f"warning: {smallest}: 0.5"
    assert said[2].removeprefix("warning: ") in (tmp_path / "sweep.html").read_text()


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("warning.drop=-1", "warning.drop: must be a number >= 0"),
        ("warning.confidence=1.5", "warning.confidence: must be between 0 and 1"),
        ("+warning.level=0.9", "warning: takes variable, drop and confidence; level is not one"),
    ],
)
def test_bad_warning_settings_are_one_paragraph(tmp_path, app_cli, override, says):
    message = one_paragraph(app_cli(*CATEGORICAL, override, f"hydra.run.dir={tmp_path}"))
    assert says in message, message
