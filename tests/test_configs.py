"""Every option of every group composes and builds; toy options and experiments run under debug.

The families come from the config folders and the components' declarations
(``families.py``). Detection and text families are composed and built here (no
training); ``test_detection.py`` and ``test_text.py`` run them at tiny size.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, TEXT_MARKS, build_job, data_marks, requires_gensim
from families import CONF, classes, families, family_data, on_disk, options, overrides
from omegaconf import OmegaConf

from collapse_sim.api import compose_config, run
from collapse_sim.components import ROLES, RUN_ABILITIES
from collapse_sim.errors import ConfigError
from collapse_sim.generators.scene_model import SceneModelGenerator
from collapse_sim.sources.shapes import ShapesSource

FAMILIES = families()
MIXINGS = options("mixing")
EXPERIMENTS = options("experiment")


def vectorised(family: dict[str, str]) -> bool:
    """A toy family: its replicates run as one vectorised loop (seconds), so it runs here."""
    return any("vectorised replicates" in c.provides for c in classes("source", family["source"]))


def mixing_data(mixing: str) -> set[str]:
    """The kinds of data a mixing policy is limited to (it needs ``"<kind> data"``), if any."""
    return {
        a.removesuffix(" data") for c in classes("mixing", mixing) for a in c.needs if a.endswith(" data")
    }


# Every toy family runs under every mixing policy. Detection and text families only build (their
# training runs in test_detection.py and test_text.py), with the policies that differ for them:
# replace, one that reads the real pool, and those limited to some kinds of data.
BUILT_WITH = {"replace", "fraction"} | {m for m in MIXINGS if mixing_data(m)}


def marks(family: dict[str, str]) -> list:
    """A text family needs the text extra (gensim's Wikipedia, the tokenizer, self-BLEU)."""
    return [requires_gensim, *TEXT_MARKS] if family_data(family) == "text" else []


PAIRS = [
    pytest.param(name, mixing, marks=marks(family), id=f"{name}-{mixing}")
    for name, family in sorted(FAMILIES.items())
    for mixing in MIXINGS
    if vectorised(family) or mixing in BUILT_WITH
]


def test_every_option_belongs_to_a_family_or_reads_the_users_files():
    for group in ("source", "generator", "trainer", "metrics"):
        chosen = {f[group] for f in FAMILIES.values()}
        assert set(options(group)) == chosen | {o for o in options(group) if on_disk(group, o)}, group
    assert {"yolo_dataset", "text_files"} <= {o for o in options("source") if on_disk("source", o)}


@pytest.mark.parametrize(("family", "mixing"), PAIRS)
def test_option_builds_and_runs(family, mixing):
    chosen = FAMILIES[family]
    args = [*overrides(chosen), f"mixing={mixing}", "+debug=default"]
    limited = mixing_data(mixing)
    if limited and family_data(chosen) not in limited:
        with pytest.raises(ConfigError, match=f"needs {next(iter(limited))} data"):
            build_job(args)
        return
    offered = set().union(*(c.provides for g, o in chosen.items() for c in classes(g, o)))
    unmet = {a for c in classes("mixing", mixing) for a in c.needs if not a.endswith(" data")} - offered
    if unmet:  # sample weights, say: a trainer that cannot honour them is refused, naming the ability
        with pytest.raises(ConfigError, match=f"needs {sorted(unmet)[0]}"):
            build_job(args)
        return
    sim = build_job(args).sim
    data = sim.trainer.needs & sim.source.provides
    assert data == {f"{family_data(chosen)} data"} and all(data <= m.needs for m in sim.metrics.values())
    if not vectorised(chosen):
        return  # built, not trained: test_detection.py and test_text.py run them at tiny size
    ds = run(args + ["replicates=3"])
    assert ds.sizes["generation"] == 3 and bool((ds.real_fraction[0] == 1.0).all())
    assert all(np.isfinite(ds[v]).all() for v in ds.data_vars)


def experiment_marks(experiment: str) -> list:
    """An experiment on text needs the text extra; one on Fashion-MNIST, its files."""
    text = (CONF / "experiment" / f"{experiment}.yaml").read_text()
    textual = "/source: wikipedia" in text or "/source: text_files" in text
    return [*([requires_gensim, *TEXT_MARKS] if textual else []), *data_marks(text)]


@pytest.mark.parametrize("experiment", [pytest.param(e, marks=experiment_marks(e)) for e in EXPERIMENTS])
def test_experiment_runs_under_debug(experiment, request, monkeypatch):
    if "/source: yolo_dataset" in (CONF / "experiment" / f"{experiment}.yaml").read_text():
        monkeypatch.chdir(request.getfixturevalue("readers_detector_files"))  # it reads the reader's files
    cfg = compose_config([f"+experiment={experiment}"])
    assert cfg.name == experiment
    job = build_job([f"+experiment={experiment}"])
    if "vectorised replicates" not in job.sim.source.provides and "text data" not in job.sim.source.provides:
        return  # composed and built; detection experiments are trained at tiny size elsewhere
    # tiny_gpt runs end to end in test_text.py, on a small corpus: here the n-gram stands in for it,
    # without the experiment's own tiny_gpt settings.
    trainer = []
    if cfg.trainer._target_.endswith("TinyGPTTrainer"):
        own = OmegaConf.load(ROOT / "conf" / "experiment" / f"{experiment}.yaml").get("trainer") or {}
        trainer = ["trainer=ngram", *(f"~trainer.{key}" for key in own)]
    ds = run([f"+experiment={experiment}", "+debug=default", *trainer, "workers=1"])  # chains in this process
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
        "vocabulary_loss",
        "kde_collapse",
    ):
        assert name in EXPERIMENTS


def test_default_run_is_a_small_detection_simulation():
    sim = build_job([]).sim
    assert isinstance(sim.source, ShapesSource) and isinstance(sim.generator, SceneModelGenerator)
    # 2 chains side by side in about 2 minutes on a 2-core CPU (README)
    assert sim.generations * sim.n_samples * sim.trainer.epochs <= 25_000 and sim.chains.chains == 2


GAUSSIAN_CHOICES = overrides(FAMILIES["gaussian_fit"])


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


def _admits(family: dict[str, str], components: tuple[type, ...]) -> bool:
    offered = RUN_ABILITIES.union(*(c.provides for g, o in family.items() for c in classes(g, o)))
    return all(c.needs <= offered for c in components)


def _role_cases():
    for group in sorted(ROLES.keys() - {"logger"}):
        for option in options(group):
            if on_disk(group, option):
                continue
            family = next((f for f in FAMILIES.values() if f.get(group) == option), None)
            if family is None:  # a mixing or reward option: the first family that meets its needs
                family = next(f for f in FAMILIES.values() if _admits(f, classes(group, option)))
            yield pytest.param(group, option, family, marks=marks(family), id=f"{group}={option}")


@pytest.mark.parametrize(("group", "option", "family"), list(_role_cases()))
def test_every_option_is_a_component_of_its_role(group, option, family):
    """Each option builds into a subclass of its role's base class (which holds every default); mixing
    and reward options are built in the first family that meets their needs (a reward is measured as a
    metric named reward)."""
    sim = build_job([*overrides(family), f"{group}={option}"]).sim
    if group == "reward":
        assert ("reward" in sim.metrics) == bool(classes(group, option)), option  # none: no curation
        built = [sim.metrics["reward"]] if classes(group, option) else []
    else:
        built = sim.metrics.values() if group == "metrics" else [getattr(sim, group)]
    assert all(isinstance(component, ROLES[group]) for component in built), f"{group}={option}"


def test_conf_folder_is_the_registry():
    assert CONF.is_dir() and (CONF / "config.yaml").is_file()
