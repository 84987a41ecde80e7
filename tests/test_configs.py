"""Every option of every group composes and builds; toy options and experiments run under debug.

Detection options and experiments are composed and built here (no training);
``test_detection.py`` runs them at tiny size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from collapse_sim.api import compose_config, run
from collapse_sim.build import build
from collapse_sim.components import ROLES, Metric, needs, provides
from collapse_sim.config import GROUPS, validate
from collapse_sim.errors import ConfigError
from collapse_sim.generators.scene_model import SceneModelGenerator
from collapse_sim.sources.shapes import ShapesSource

CONF = Path(__file__).resolve().parent.parent / "conf"

# One compatible set of choices per family; each group option must appear in one.
FAMILIES = {
    "gaussian": dict(source="gaussian", generator="refit_sample", trainer="gaussian_fit", metrics="gaussian"),
    "gmm": dict(source="gmm", generator="refit_sample", trainer="gmm_fit", metrics="gaussian"),
    "kde": dict(source="gaussian", generator="refit_sample", trainer="kde_fit", metrics="gaussian"),
    "zipf": dict(source="zipf", generator="refit_sample", trainer="categorical_fit", metrics="classes"),
    "linreg": dict(source="linreg", generator="relabel", trainer="ols", metrics="regression"),
    "shapes": dict(source="shapes", generator="scene_model", trainer="yolo_fast", metrics="detection"),
    "pseudo": dict(source="shapes", generator="pseudo_label", trainer="yolo", metrics="detection"),
    "sprites": dict(source="shapes", generator="sprite_vae", trainer="yolo_fast", metrics="images"),
    "paste": dict(source="shapes", generator="sprite_paste", trainer="yolo_fast", metrics="detection"),
    "text": dict(source="wikipedia", generator="sample_text", trainer="ngram", metrics="text"),
    "gpt": dict(source="wikipedia", generator="sample_text", trainer="tiny_gpt", metrics="text"),
}
DETECTION = {"shapes", "pseudo", "sprites", "paste"}
TEXT = {"text", "gpt"}  # built here; test_text.py runs them on small corpora
DETECTION_ONLY_MIXINGS = {"verified"}
# Needs a dataset on disk; test_yolo_dataset.py builds and runs it.
ON_DISK = {"yolo_dataset", "text_files"}
MIXINGS = sorted(p.stem for p in (CONF / "mixing").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
# Every toy family runs under every mixing policy (seconds). Detection and text families only build
# (their training runs in test_detection.py and test_text.py), so each builds with the policies that
# differ for it: replace, one that reads the real pool, and the detection-only one.
BUILT_WITH = ("replace", "fraction", *sorted(DETECTION_ONLY_MIXINGS))
PAIRS = [
    (family, mixing)
    for family in sorted(FAMILIES)
    for mixing in MIXINGS
    if family not in DETECTION | TEXT or mixing in BUILT_WITH
]


def options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_every_option_is_covered_by_a_family():
    for group in ("source", "generator", "trainer", "metrics"):
        assert set(options(group)) - ON_DISK == {f[group] for f in FAMILIES.values()}, group


@pytest.mark.parametrize(("family", "mixing"), PAIRS)
def test_option_builds_and_runs(family, mixing):
    overrides = [f"{g}={o}" for g, o in FAMILIES[family].items()] + [
        f"mixing={mixing}",
        "+debug=default",
    ]
    cfg = compose_config(overrides)
    resolved = validate(cfg)
    choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if k in GROUPS}
    if mixing in DETECTION_ONLY_MIXINGS and family not in DETECTION:
        with pytest.raises(ConfigError, match="needs detection data"):
            build(resolved, choices)
        return
    sim = build(resolved, choices)
    family_data = needs(sim.trainer) & provides(sim.source)
    assert len(family_data) == 1 and all(family_data <= needs(m) for m in sim.metrics.values())
    if family in DETECTION | TEXT:
        return  # built, not trained: test_detection.py and test_text.py run them at tiny size
    ds = run(overrides + ["replicates=3"])
    assert ds.sizes["generation"] == 3 and bool(ds.real_fraction[0] == 1.0)
    assert all(np.isfinite(ds[v]).all() for v in ds.data_vars)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_under_debug(experiment):
    cfg = compose_config([f"+experiment={experiment}"])
    assert cfg.name == experiment
    if cfg.source._target_.endswith("ShapesSource"):
        choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if k in GROUPS}
        assert "detection data" in provides(build(validate(cfg), choices).source)
        return  # composed and built; detection experiments are trained at tiny size elsewhere
    # tiny_gpt runs end to end in test_text.py, on a small corpus
    trainer = ["trainer=ngram"] if cfg.trainer._target_.endswith("TinyGPTTrainer") else []
    ds = run([f"+experiment={experiment}", "+debug=default", *trainer])
    assert ds.sizes["generation"] == 3 and ds.attrs["config"]["name"] == experiment


def test_experiment_names_from_design_exist():
    for name in (
        "gaussian_collapse",
        "accumulate_vs_replace",
        "fresh_data",
        "zipf_tail",
        "linreg_accumulate",
        "tail_loss",
        "pseudo_label_drift",
        "verified_data",
        "artefact_amplification",
    ):
        assert name in EXPERIMENTS


def test_default_run_is_a_small_detection_simulation():
    cfg = compose_config([])
    resolved = validate(cfg)
    sim = build(resolved, {k: v for k, v in cfg.hydra.runtime.choices.items() if k in GROUPS})
    assert isinstance(sim.source, ShapesSource) and isinstance(sim.generator, SceneModelGenerator)
    # 2 chains side by side in about 2 minutes on a 2-core CPU (README)
    assert sim.generations * sim.n_samples * sim.trainer.epochs <= 25_000 and sim.chains.chains == 2


GAUSSIAN_CHOICES = [f"{g}={o}" for g, o in FAMILIES["gaussian"].items()]


@pytest.mark.parametrize("experiment", ["tail_loss", "pseudo_label_drift", "artefact_amplification", None])
def test_debug_trains_a_detector_one_epoch_whatever_the_experiment_asks(experiment):
    chosen = [f"+experiment={experiment}"] if experiment else []
    assert compose_config(chosen).trainer.epochs > 1
    assert compose_config([*chosen, "+debug=default"]).trainer.epochs == 1
    assert compose_config([*chosen, "trainer=yolo", "+debug=default"]).trainer.epochs == 1
    assert "epochs" not in compose_config([*GAUSSIAN_CHOICES, "+debug=default"]).trainer


def test_experiment_and_debug_accept_both_spellings():
    a = compose_config(["+experiment=zipf_tail", "+debug=default"])
    b = compose_config(["experiment=zipf_tail", "debug=default"])
    assert a.generations == b.generations == 3 and a.source == b.source


@pytest.mark.parametrize("group", [*ROLES, "metrics"])
def test_every_option_satisfies_its_role(group):
    """Each option's class has its role's methods and attributes (checked on the built component)."""
    role = ROLES.get(group, Metric)
    for option in options(group):
        if option in ON_DISK:
            continue
        # mixing options work with every family; the detection family admits all of them
        family = (
            FAMILIES["shapes"]
            if group == "mixing"
            else next(f for f in FAMILIES.values() if f[group] == option)
        )
        cfg = compose_config([f"{g}={o}" for g, o in family.items()] + [f"{group}={option}"])
        choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if k in GROUPS}
        sim = build(validate(cfg), choices)
        components = sim.metrics.values() if group == "metrics" else [getattr(sim, group)]
        for component in components:
            assert isinstance(component, role), (
                f"{group}={option}: {type(component).__qualname__} is no {role.__name__}"
            )
