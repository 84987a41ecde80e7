"""collapse_sim as a library: a wheel that runs anywhere, user configs outside the package, a tidy house."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import ROOT, user_env

import collapse_sim as cs
from collapse_sim.api import compose_config
from collapse_sim.config import validate
from collapse_sim.errors import ConfigError
from collapse_sim.sources.gaussian import GaussianSource
from collapse_sim.theory import expected_curves

PACKAGE = ROOT / "collapse_sim"

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
    zipf = (ROOT / "conf" / "source" / "zipf.yaml").read_text()
    (conf / "source" / "keyed_zipf.yaml").write_text(
        zipf.replace("collapse_sim.sources.zipf.ZipfSource", "lab_components.KeyedZipfSource")
    )
    return conf, src


def _env_with(path: Path) -> dict:
    return user_env(PYTHONPATH=os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH", "")])))


def _cli(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "collapse_sim", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_pyproject_lists_every_package():
    """The wheel's package list is explicit (conf/ is mapped in); a new subpackage must be added to it."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in PACKAGE.rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert listed == on_disk | {"collapse_sim.conf"}


@pytest.mark.parametrize("how", ["--config-dir", "hydra.searchpath"])
def test_user_experiment_and_component_run_from_their_own_folder(lab, tmp_path, how):
    conf, src = lab
    run_dir = tmp_path / "run"
    where = ["--config-dir", str(conf)] if how == "--config-dir" else [f"hydra.searchpath=[file://{conf}]"]
    result = _cli(
        *where, "+experiment=lab_noise", f"hydra.run.dir={run_dir}", env=_env_with(src), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    ds = cs.open_run(run_dir)
    assert ds.attrs["choices"]["generator"] == "label_noise"
    assert ds.attrs["choices"]["experiment"] == "lab_noise"
    assert ds.attrs["config"]["generator"]["_target_"] == "lab_components.LabelNoiseGenerator"
    # Half the labels are uniform noise: the rarest of 10 Zipf classes gains share instead of vanishing.
    assert float(ds.class_frequency.isel(generation=-1, **{"class": -1}).mean()) > 0.04


def test_a_user_ability_is_checked_by_the_same_rule_and_named(lab, monkeypatch):
    """An ability the package never heard of: a need refused names the user's option that provides it."""
    conf, src = lab
    monkeypatch.syspath_prepend(str(src))
    with pytest.raises(ConfigError) as refused:
        cs.run(["+experiment=lab_noise", "generator=watermarked"], config_dir=conf)
    assert str(refused.value) == (
        "generator: generator=watermarked needs watermark key, which source=zipf does not provide; "
        "options that provide it: source=keyed_zipf"
    )
    ds = cs.run(["+experiment=lab_noise", "generator=watermarked", "source=keyed_zipf"], config_dir=conf)
    assert ds.sizes["generation"] == 4


def test_a_subclass_passing_settings_to_its_parent_is_checked_against_the_parents(lab, monkeypatch):
    conf, src = lab
    monkeypatch.syspath_prepend(str(src))
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


def test_a_typo_in_a_user_option_lists_the_users_options_too(lab, tmp_path):
    conf, src = lab
    result = _cli(
        "--config-dir",
        str(conf),
        "+experiment=lab_noise",
        "generator=label_nois",
        env=_env_with(src),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "generator: has no option 'label_nois'; valid options: label_noise, pseudo_label" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_config_dir_stops_before_any_work(tmp_path):
    missing = tmp_path / "no_such_folder"
    result = _cli(
        "--config-dir",
        str(missing),
        f"hydra.run.dir={tmp_path / 'run'}",
        env=_env_with(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--config-dir: {missing} is not a folder" in " ".join(result.stderr.split())
    assert not (tmp_path / "run").exists()


def test_a_user_target_that_cannot_be_imported_stops_before_any_work(lab, tmp_path):
    conf, _ = lab  # src is not on PYTHONPATH: lab_components cannot be imported
    result = _cli(
        "--config-dir",
        str(conf),
        "+experiment=lab_noise",
        f"hydra.run.dir={tmp_path / 'run'}",
        env=_env_with(tmp_path),
        cwd=tmp_path,
    )
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "generator._target_: cannot import 'lab_components.LabelNoiseGenerator'" in message
    assert not (tmp_path / "run").exists()


def test_run_from_python_takes_the_same_config_dir(lab, monkeypatch):
    conf, src = lab
    monkeypatch.syspath_prepend(str(src))
    ds = cs.run(["+experiment=lab_noise", "generations=2"], config_dir=conf)
    assert ds.sizes["generation"] == 2 and ds.attrs["config"]["generator"]["noise"] == 0.5
    with pytest.raises(ConfigError, match="is not a folder"):
        cs.run(["+experiment=lab_noise"], config_dir=conf / "missing")


@pytest.mark.slow
def test_a_wheel_alone_runs_from_an_empty_folder(tmp_path):
    """Build the wheel, install it without the checkout into a fresh environment, run app and report."""
    wheels, source = tmp_path / "wheels", tmp_path / "source"
    # Built from a clean copy: an in-tree build/ folder could carry modules that no longer exist.
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", "build", "outputs", "*.egg-info", "__pycache__", ".*cache"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("collapse_sim-*.whl")
    env_dir = tmp_path / "env"
    # The heavy dependencies (torch, ultralytics) come from this interpreter's site-packages;
    # collapse_sim itself only from the wheel.
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run(
        [bin_dir / "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in user_env().items() if k != "PYTHONPATH"}  # collapse_sim from the wheel only

    def installed(program: str, *args: str) -> subprocess.CompletedProcess:
        """A program of the fresh environment, run from the empty folder."""
        return subprocess.run([bin_dir / program, *args], cwd=empty, capture_output=True, text=True, env=env)

    where = installed("python", "-c", "import collapse_sim.config as c; print(c.CONFIG_DIR)")
    assert Path(where.stdout.strip()).is_relative_to(env_dir)  # the wheel's own configs, not the checkout's
    run = installed("collapse-sim", "+experiment=zipf_tail", "+debug=default")
    assert run.returncode == 0, run.stderr
    (run_dir,) = (empty / "outputs" / "runs" / "zipf_tail").iterdir()
    assert (run_dir / "curves.png").is_file()
    sweep = installed(
        "collapse-sim",
        "-m",
        "+experiment=zipf_tail",
        "+debug=default",
        "seed=0,1",
        "plots=false",
        "hydra.sweep.dir=sweep",
    )
    assert sweep.returncode == 0, sweep.stderr
    report = installed("collapse-sim-report", "sweep")
    assert report.returncode == 0, report.stderr
    assert "Warning" not in report.stderr
    assert xr.open_zarr(empty / "sweep" / "sweep.zarr").sizes["seed"] == 2
    in_python = installed(
        "python",
        "-c",
        "import collapse_sim as cs; ds = cs.run(['+experiment=zipf_tail', '+debug=default']); "
        "print(ds.sizes['generation'])",
    )
    assert in_python.returncode == 0 and in_python.stdout.strip() == "3", in_python.stderr


# --- one home per idea -------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    """Modules a file imports (absolute names), at any depth in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _modules() -> dict[str, Path]:
    return {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in PACKAGE.rglob("*.py")
        if "__pycache__" not in p.parts
    }


def test_ultralytics_is_imported_only_under_yolo():
    outside = {
        name
        for name, path in _modules().items()
        if not name.startswith("collapse_sim.yolo")
        and any(i.split(".")[0] == "ultralytics" for i in _imports(path))
    }
    assert outside == set()


def test_yolo_imports_nothing_from_metrics_or_trainers():
    upward = {
        (name, i)
        for name, path in _modules().items()
        if name.startswith("collapse_sim.yolo")
        for i in _imports(path)
        if i.startswith(("collapse_sim.metrics", "collapse_sim.trainers", "collapse_sim.generators"))
    }
    assert upward == set()


def test_no_import_cycles():
    modules = _modules()
    # The package's own __init__ is a lazy facade (open_run, run, ...), never imported by the layers below
    # it except for __version__; every other edge counts, function-level imports included.
    graph = {
        name: {
            m
            for i in _imports(path)
            for m in (i, i.rpartition(".")[0])
            if m in modules and m not in (name, "collapse_sim")
        }
        for name, path in modules.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return trail + [node, nxt]
            if nxt not in state and (cycle := visit(nxt, trail + [node])):
                return cycle
        state[node] = 2
        return None

    cycles = [c for name in sorted(modules) if name not in state and (c := visit(name, []))]
    assert cycles == []


def test_build_declares_what_it_checks():
    source = (PACKAGE / "build.py").read_text()
    probes = [
        node.func.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr")
    ]
    assert probes == []


class LabGaussianSource(GaussianSource):
    """A user's extension of the Gaussian source: the theory still applies to it."""


def test_theory_selects_by_type_so_subclasses_get_its_curves():
    resolved = validate(compose_config(["+experiment=gaussian_collapse"]))
    curves = expected_curves(resolved)
    assert np.all(np.isfinite(curves["variance"]))
    resolved["source"]["_target_"] = f"{__name__}.LabGaussianSource"
    np.testing.assert_array_equal(expected_curves(resolved)["variance"], curves["variance"])
    resolved["source"]["_target_"] = "collapse_sim.sources.gaussian.GMMSource"  # another family: no curve
    assert expected_curves(resolved) == {}
