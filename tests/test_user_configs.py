"""A researcher's own configs and components, outside the package: found, checked and run as the
package's are."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import one_paragraph

import collapse_sim as cs
from collapse_sim.errors import ConfigError

USER_MODULE = '''
"""A lab's own components: a generator extended the usual Python way, and an ability of the lab's own."""

import numpy as np

from collapse_sim.generators.refit_sample import RefitSampleGenerator
from collapse_sim.samples import Samples
from collapse_sim.sources.zipf import ZipfSource


class LabelNoiseGenerator(RefitSampleGenerator):
    """Refit-sample's ``n`` samples, then a share ``noise`` of them gets a uniform random class."""

    def __init__(self, *, noise: float = 0.1, **kw) -> None:
        super().__init__(**kw)  # n, temperature, ... are checked against the parent's settings
        self.noise = noise

    def generate(self, model, data, generation, rng, *, real=None):
        labels = super().generate(model, data, generation, rng, real=real)[model.field]
        flip = rng.random(labels.shape) < self.noise
        labels = np.where(flip, rng.integers(0, model.probs.shape[1], labels.shape), labels)
        return Samples.made_by(generation, **{model.field: labels})


class WatermarkedGenerator(LabelNoiseGenerator):
    """A generator that needs the watermark key only the lab's own source knows."""

    needs = frozenset({"watermark key"})


class KeyedZipfSource(ZipfSource):
    """The Zipf source with the lab's watermark key."""

    provides = ZipfSource.provides | {"watermark key"}
'''

USER_EXPERIMENT = """# @package _global_
defaults:
  - override /source: zipf
  - override /generator: label_noise
  - override /mixing: replace
  - override /trainer: categorical_fit
  - override /metrics: classes

name: lab_noise
generations: 4
n_samples: 200
replicates: 50
source:
  n_classes: 10
"""


@pytest.fixture
def lab(tmp_path):
    """A researcher's own repository: configs in lab/conf, a component in lab/src (on PYTHONPATH)."""
    conf, src = tmp_path / "lab" / "conf", tmp_path / "lab" / "src"
    (conf / "experiment").mkdir(parents=True)
    (conf / "generator").mkdir()
    src.mkdir()
    (src / "lab_components.py").write_text(USER_MODULE)
    (conf / "experiment" / "lab_noise.yaml").write_text(USER_EXPERIMENT)
    (conf / "generator" / "label_noise.yaml").write_text(
        "_target_: lab_components.LabelNoiseGenerator\nn: ${n_samples}\nnoise: 0.5\n"
    )
    (conf / "generator" / "watermarked.yaml").write_text(
        "_target_: lab_components.WatermarkedGenerator\nn: ${n_samples}\n"
    )
    (conf / "source").mkdir()
    zipf = (Path(cs.__file__).parent.parent / "conf" / "source" / "zipf.yaml").read_text()
    (conf / "source" / "keyed_zipf.yaml").write_text(
        zipf.replace("collapse_sim.sources.zipf.ZipfSource", "lab_components.KeyedZipfSource")
    )
    return conf, src


@pytest.fixture
def importable(lab, monkeypatch):
    """The lab's components importable, as with PYTHONPATH=lab/src."""
    conf, src = lab
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.delitem(sys.modules, "lab_components", raising=False)  # another test's lab
    return conf


@pytest.mark.parametrize("how", ["--config-dir", "hydra.searchpath"])
def test_user_experiment_and_component_run_from_their_own_folder(importable, tmp_path, how, app_cli):
    conf = importable
    run_dir = tmp_path / "run"
    where = ["--config-dir", str(conf)] if how == "--config-dir" else [f"hydra.searchpath=[file://{conf}]"]
    result = app_cli(*where, "+experiment=lab_noise", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    ds = cs.open_run(run_dir)
    assert ds.attrs["choices"]["generator"] == "label_noise"
    assert ds.attrs["choices"]["experiment"] == "lab_noise"
    assert ds.attrs["config"]["generator"]["_target_"] == "lab_components.LabelNoiseGenerator"
    # Half the labels are uniform noise: the rarest of 10 Zipf classes gains share instead of vanishing.
    assert float(ds.class_frequency.isel(generation=-1, **{"class": -1}).mean()) > 0.04


def test_a_user_ability_is_checked_by_the_same_rule_and_named(importable):
    """An ability the package never heard of: a need refused names the user's option that provides it."""
    conf = importable
    with pytest.raises(ConfigError) as refused:
        cs.run(["+experiment=lab_noise", "generator=watermarked"], config_dir=conf)
    assert str(refused.value) == (
        "generator: generator=watermarked needs watermark key, which source=zipf does not provide; "
        "options that provide it: source=keyed_zipf"
    )
    ds = cs.run(["+experiment=lab_noise", "generator=watermarked", "source=keyed_zipf"], config_dir=conf)
    assert ds.sizes["generation"] == 4


def test_a_subclass_passing_settings_to_its_parent_is_checked_against_the_parents(importable):
    conf = importable
    with pytest.raises(ConfigError, match="generator.temprature: is not a setting of lab_components.Label"):
        cs.run(["+experiment=lab_noise", "+generator.temprature=0.5"], config_dir=conf)
    with pytest.raises(ConfigError, match="generator.temperature: must be float, got 'hot'"):
        cs.run(["+experiment=lab_noise", "+generator.temperature=hot"], config_dir=conf)
    with pytest.raises(
        ConfigError, match="generator.temperature: is not a setting here; valid settings of 'g"
    ):
        cs.run(["+experiment=lab_noise", "generator.temperature=2.0"], config_dir=conf)  # not in its YAML
    ds = cs.run(["+experiment=lab_noise", "generations=1", "+generator.temperature=2.0"], config_dir=conf)
    assert ds.attrs["config"]["generator"]["temperature"] == 2.0


def test_a_typo_in_a_user_option_lists_the_users_options_too(importable, tmp_path, app_cli):
    result = app_cli("--config-dir", str(importable), "+experiment=lab_noise", "generator=label_nois")
    message = one_paragraph(result)
    assert (
        "generator: has no option 'label_nois'; valid options: image_sample, label_noise, pseudo_label"
        in message
    )


def test_a_missing_config_dir_stops_before_any_work(tmp_path, app_cli):
    missing = tmp_path / "no_such_folder"
    result = app_cli("--config-dir", str(missing), f"hydra.run.dir={tmp_path / 'run'}")
    assert f"--config-dir: {missing} is not a folder" in one_paragraph(result)
    assert not (tmp_path / "run").exists()


def test_a_user_target_that_cannot_be_imported_stops_before_any_work(lab, tmp_path, app_cli, monkeypatch):
    conf, _ = lab  # src is not on the path: lab_components cannot be imported
    monkeypatch.delitem(sys.modules, "lab_components", raising=False)
    message = one_paragraph(
        app_cli("--config-dir", str(conf), "+experiment=lab_noise", f"hydra.run.dir={tmp_path / 'run'}")
    )
    assert "generator._target_: cannot import 'lab_components.LabelNoiseGenerator'" in message
    assert not (tmp_path / "run").exists()


def test_run_from_python_takes_the_same_config_dir(importable):
    conf = importable
    ds = cs.run(["+experiment=lab_noise", "generations=2"], config_dir=conf)
    assert ds.sizes["generation"] == 2 and ds.attrs["config"]["generator"]["noise"] == 0.5
    with pytest.raises(ConfigError, match="is not a folder"):
        cs.run(["+experiment=lab_noise"], config_dir=conf / "missing")
