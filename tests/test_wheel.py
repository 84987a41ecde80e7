"""The package as shipped: the wheel lists every subpackage, and a wheel alone runs from an empty folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
import xarray as xr
from conftest import ROOT, user_env

PACKAGE = ROOT / "collapse_sim"


def test_pyproject_lists_every_package():
    """The wheel's package list is explicit (conf/ is mapped in); a new subpackage must be added to it."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in PACKAGE.rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert listed == on_disk | {"collapse_sim.conf"}


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
    # collapse_sim only from the wheel; its dependencies (torch, ultralytics, ...) from the environment
    # running these tests, a virtual one or not: its site-packages joins the fresh one's path through a
    # .pth file (system_site_packages would see the base interpreter's packages instead of a venv's).
    venv.create(env_dir, with_pip=False)
    (site,) = (env_dir / "lib").glob("python3*/site-packages")
    ours = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]
    (site / "running_environment.pth").write_text("".join(f"{path}\n" for path in ours))
    bin_dir = env_dir / "bin"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(bin_dir / "python"),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        check=True,
        capture_output=True,
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
    combined = xr.open_zarr(empty / "sweep" / "sweep.zarr")  # the two seeds' chains, pooled as reported
    assert combined.sizes["replicate"] == 4 and sorted(set(combined.seed.values.tolist())) == [0, 1]
    in_python = installed(
        "python",
        "-c",
        "import collapse_sim as cs; ds = cs.run(['+experiment=zipf_tail', '+debug=default']); "
        "print(ds.sizes['generation'])",
    )
    assert in_python.returncode == 0 and in_python.stdout.strip() == "3", in_python.stderr
