"""Shared helpers: the command line in this process (``app_cli``) or, where a process boundary is the
point, in a subprocess (``run_cli``); a script of benchmarks/ or docs/ in this process (``run_here``); jobs
composed and built in-process (``build_job``)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# pytest-xdist runs one worker per core; numpy's BLAS and torch's OpenMP would each start a thread per core
# in every worker (and in the runs each starts), and pools of spinning threads on shared cores slow the suite
# by about a tenth. One thread a worker: the variables for torch and for the runs a test starts, and
# threadpoolctl for the BLAS that zarr's pytest plugin has loaded already. A run's training threads are its
# ``trainer.threads`` setting either way; the thread-count test sets these variables itself.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    from threadpoolctl import threadpool_limits

    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_variable, "1")
    threadpool_limits(1)

ROOT = Path(__file__).resolve().parent.parent
# The default run is a detection simulation; these choices make it the 1-D Gaussian toy.
GAUSSIAN = ("source=gaussian", "generator=refit_sample", "trainer=gaussian_fit", "metrics=gaussian")
# A toy run slow enough to be killed after a few generations (about a second each).
SLOW_RUN = (
    *GAUSSIAN,
    "source=gmm",
    "trainer=gmm_fit",
    "generations=10",
    "replicates=6",
    "n_samples=300",
    "plots=false",
    "store_flush_s=0",  # each generation written as it ends: "killed after N complete" is exact
)
# A detection run small enough for a test: one chain, a few 64-px images, one epoch.
TINY_DETECTION = (
    "replicates=1",
    "generations=2",
    "n_samples=16",
    "source.test_size=12",
    "trainer.epochs=1",
    "trainer.batch=8",
)
# The default run's two chains side by side at that size, warm-started for three generations: the
# shared run (``two_chain_run``) is the default run for the tests that read one and the reference that
# killed and faulty runs of these settings must equal.
TWO_CHAINS = (
    *(o for o in TINY_DETECTION if not o.startswith(("replicates=", "generations="))),
    "generations=3",
    "warm_start=true",
)


def requires(module: str, extra: str) -> pytest.MarkDecorator:
    """Skip a test when an optional dependency is not installed, naming the extra that brings it
    (xarray's ``requires_x`` markers)."""
    missing = importlib.util.find_spec(module) is None
    return pytest.mark.skipif(missing, reason=f"needs {module}, not installed: pip install -e '.[{extra}]'")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


requires_mlflow = requires("mlflow", "trackers")
requires_tensorboard = requires("tensorboard", "trackers")
requires_wandb = requires("wandb", "trackers")
requires_gensim = requires("gensim", "text")  # source=wikipedia reads the text its wheel ships
# A text run: its tokenizer (byte-level BPE) and its metrics (self-BLEU).
TEXT_MARKS = [requires("tokenizers", "text"), requires("sacrebleu", "text")]
requires_joblib_launcher = requires("hydra_plugins.hydra_joblib_launcher", "launchers")
# Debian's dataset-fashion-mnist: +experiment=mad_fashion reads it where the package puts it.
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
requires_fashion_mnist = pytest.mark.skipif(
    not FASHION_MNIST.is_dir(),
    reason=f"needs Fashion-MNIST in {FASHION_MNIST}: apt install dataset-fashion-mnist",
)


def data_marks(config_text: str) -> list:
    """The marks of a command or experiment whose configuration text reads Fashion-MNIST."""
    return [requires_fashion_mnist] if str(FASHION_MNIST) in config_text else []


requires_submitit = requires("hydra_plugins.hydra_submitit_launcher", "launchers")


def build_job(overrides, *, config_dir=None):
    """A job composed, validated and built from command-line overrides: ``collapse_sim.api.job``, the
    package's one way (no test writes compose, validate and build out itself)."""
    from collapse_sim.api import job

    return job(list(overrides), config_dir=config_dir)


def user_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell for a subprocess, with ``extra`` variables set.

    In-process tests import Ultralytics, which leaves YOLO_* variables behind; a user's shell has none.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    return env | extra


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``python -m collapse_sim ARGS`` as a user would type it (``env``: the variables of ``user_env``)."""
    env = env or user_env()
    return subprocess.run(
        [sys.executable, "-m", "collapse_sim", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def completed(run_dir: Path) -> int:
    """Generations marked complete in a run's store (0 while it does not exist yet)."""
    import numpy as np
    import zarr

    try:
        return int(np.asarray(zarr.open_group(run_dir / "results.zarr", mode="r")["completed"][:]).sum())
    except Exception:
        return 0


def logged(run_dir: Path) -> int:
    """Generations a run has finished, kept or not: the lines its log has for them (vectorised runs)."""
    log = run_dir / "collapse_sim.log"
    return log.read_text().count("[INFO] generation ") if log.is_file() else 0


def kill_after(
    args, run_dir: Path, generations: int, *, timeout: float = 300, cwd: Path = ROOT, held: int = 0
) -> int:
    """Start a run, SIGKILL it once ``generations`` are complete (and, with ``held``, once at least that
    many more are finished but not yet written); returns how many were complete."""
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "collapse_sim", *args, f"hydra.run.dir={run_dir}"],
        cwd=cwd,
        env=user_env(PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + timeout

    def waiting() -> bool:
        kept = completed(run_dir)
        return kept < generations or (held > 0 and logged(run_dir) < kept + held)

    while waiting() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed; make it slower"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return completed(run_dir)


def assert_same_results(a, b) -> None:
    """Two runs recorded identical values (wall times aside)."""
    import numpy as np

    a, b = a.load(), b.load()
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        if name != "wall_time_s":
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.fixture(scope="session")
def two_chain_run(tmp_path_factory):
    """One tiny default run (``TWO_CHAINS``: 2 chains side by side, TensorBoard on) from an empty folder,
    for tests that read it or compare with it: ``(result, run_dir)``. Its tests share the xdist group
    ``two_chain_run``, so one worker makes it once."""
    folder = tmp_path_factory.mktemp("two_chains")
    trackers = ["logger=tensorboard"] if _installed("tensorboard") else []  # its tests need it; the rest not
    result = run_cli(*TWO_CHAINS, *trackers, cwd=folder)
    assert result.returncode == 0, result.stderr
    (run_dir,) = list((folder / "outputs" / "runs" / "default").iterdir())
    return result, run_dir


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """One detector for the session, trained by the stock trainer on 96 real scenes of three equally
    common classes for 16 epochs (mAP50 about 0.5: enough for scores to agree meaningfully; fewer scenes
    for more epochs costs a third less than 160 for 12), with the real data and its folder:
    ``(detector, real, folder)``. Its tests share the xdist group ``trained``, so one worker trains it
    once."""
    import numpy as np

    from collapse_sim.components import RunContext
    from collapse_sim.sources.shapes import ShapesSource
    from collapse_sim.trainers.yolo import YOLOTrainer

    folder = tmp_path_factory.mktemp("trained")
    real = ShapesSource(pool_size=96, test_size=48, n_classes=3, exponent=0.0).load(np.random.default_rng(0))
    trainer = YOLOTrainer(epochs=16, batch=16, device="cpu")
    trainer.setup(RunContext(folder, 0))
    detector = trainer.fit(real.train, init=None, rng=np.random.default_rng(1), generation=0)
    return detector, real, folder


def assert_scores_match_ultralytics_val(ours, detector, data_yaml, split: str, folder) -> None:
    """Our detection scores of ``detector`` (a dataset of DetectionMetrics) agree with ``YOLO.val`` on the
    same weights and split: mAP50 and mAP50-95 within 0.02, each class's AP50-95 within 0.03. Not to the
    last digit: we clip predicted boxes to the image, the validator does not (metrics/detection.py)."""
    theirs = detector.yolo.val(
        data=str(data_yaml),
        split=split,
        imgsz=64,
        batch=16,
        conf=0.001,
        rect=False,  # square letterbox at imgsz, as our predictions see the images
        iou=0.7,
        plots=False,
        verbose=False,
        device="cpu",
        project=str(folder),
        name="val",
    )
    assert abs(float(ours.map50) - theirs.box.map50) < 0.02
    assert abs(float(ours.map50_95) - theirs.box.map) < 0.02
    per_class = dict(zip(theirs.box.ap_class_index.tolist(), theirs.box.all_ap.mean(1).tolist(), strict=True))
    for index, ap in per_class.items():
        assert abs(float(ours.ap50_95[index]) - ap) < 0.03


def named_checkpoint(path, names):
    """An untrained YOLO26n checkpoint that names its classes, as a trained one does."""
    from collapse_sim.yolo.network import build_network, save_network

    network = build_network("yolo26n.yaml", len(names), start_from=None, hyperparameters={})
    network.names = dict(enumerate(names))
    save_network(path, network, train_args={})
    return path


@pytest.fixture(scope="session")
def readers_detector_files(tmp_path_factory):
    """What the self-training experiment and its documented commands name, as a reader would have it:
    ``collapse-sim-export``'s ``shapes_data/`` (at the experiment's sizes), the same as ``my_data/``, and
    the stock trainer's ``runs/detect/train/weights/best.pt`` (a correctly named checkpoint stands in:
    nothing is trained). Commands that read them run from this folder."""
    from collapse_sim.export import write_shapes_dataset
    from collapse_sim.sources.shapes import SHAPES

    folder = tmp_path_factory.mktemp("reader")
    write_shapes_dataset(folder / "shapes_data", labelled=400, unlabelled=200, test=8)
    named_checkpoint(folder / "shapes_data" / "best.pt", names=tuple(SHAPES)[:8])  # the export's 8 classes
    (folder / "my_data").symlink_to(folder / "shapes_data")
    weights = folder / "runs" / "detect" / "train" / "weights"
    weights.mkdir(parents=True)
    (weights / "best.pt").symlink_to(folder / "shapes_data" / "best.pt")
    return folder


@pytest.fixture
def cli():
    """The ``run_cli`` helper as a fixture."""
    return run_cli


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``cuda`` on machines without a CUDA GPU (they run where one exists)."""
    # The marker, not the keyword: a parameter named "cuda" is a keyword too, and needs no GPU.
    if not any(item.get_closest_marker("cuda") for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("cuda"):
            item.add_marker(skip)


def pytest_unconfigure(config):
    """Collect once, then freeze what is left, before pytest's own end-of-session collections.

    A worker's heap holds torch, Ultralytics and the Hugging Face libraries: millions of objects, which
    pytest's unraisable-exception check then collected five times over and the interpreter's teardown once
    more (about 6 s a worker, after its last test). This collection still runs every pending finaliser
    while pytest's hook listens, so an exception raised in a ``__del__`` is reported as before; the later
    collections only skip what had survived it.
    """
    import gc

    gc.collect()
    gc.freeze()


@dataclass(frozen=True)
class Ran:
    """What a command line gave back: its exit code and output (as ``subprocess.CompletedProcess``)."""

    returncode: int
    stdout: str
    stderr: str


def exit_code(stop: SystemExit) -> int:
    """The status an interpreter leaves with on ``stop``: its integer code, 0 for None, else 1 (a message)."""
    return stop.code if isinstance(stop.code, int) else int(stop.code is not None)


@pytest.fixture
def app_cli(monkeypatch, capsys):
    """``python -m collapse_sim ARGS`` run in this process (``app.main``), with its exit code and output.

    No interpreter start-up and no import of the package again: use it for refusals and short runs; a
    subprocess only where a process boundary is the point (signals, spawn, the wheel, console scripts).
    """
    import logging

    from collapse_sim import app

    handlers = list(logging.getLogger().handlers)

    def run(*args: str, cwd: Path | None = None) -> Ran:
        monkeypatch.setattr("sys.argv", ["collapse_sim", *args])
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = 0
        try:
            app.main()
        except SystemExit as stop:
            code = exit_code(stop)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    yield run
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h not in handlers]:  # the run's log files
        root.removeHandler(handler)
        handler.close()


@pytest.fixture
def run_here(monkeypatch, capsys):
    """``python SCRIPT ARGS`` run in this process, as ``python SCRIPT`` would (its folder first on the path,
    its arguments in ``sys.argv``, ``__name__ == "__main__"``): its exit code and output. torch, Ultralytics
    and the Hugging Face libraries are imported once per test worker instead of once per script; torch's
    thread count, which the benchmarks set, is given back afterwards."""

    def run(script: str, *args: str) -> subprocess.CompletedProcess:
        import runpy
        import warnings

        import torch

        monkeypatch.syspath_prepend(str((ROOT / script).parent))
        monkeypatch.setattr(sys, "argv", [script, *args])
        monkeypatch.chdir(ROOT)
        threads, code = torch.get_num_threads(), 0
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as warned:  # printed to its stderr, as an interpreter does
            warnings.simplefilter("default")
            try:
                runpy.run_path(str(ROOT / script), run_name="__main__")
            except SystemExit as stop:  # an interpreter prints a message and leaves with code 1
                code = exit_code(stop)
                if stop.code is not None and not isinstance(stop.code, int):
                    print(stop.code, file=sys.stderr)
            finally:
                torch.set_num_threads(threads)
        for said in warned:
            print(
                warnings.formatwarning(said.message, said.category, said.filename, said.lineno),
                file=sys.stderr,
            )
        captured = capsys.readouterr()
        return subprocess.CompletedProcess([script, *args], code, captured.out, captured.err)

    return run


def one_paragraph(result, code: int = 2) -> str:
    """The paragraph of a refused, failed or stopped command (exit ``code``, one ``collapse_sim: error:``
    or ``collapse_sim: stopped:``, no traceback), with its line breaks undone."""
    import re

    assert result.returncode == code, (result.returncode, result.stderr)
    said = re.findall(r"^collapse_sim: (?:error|stopped):", result.stderr, flags=re.M)
    assert len(said) == 1 and "Traceback" not in result.stderr, result.stderr
    return " ".join(result.stderr.split())


def refused_in_process(args: list[str], monkeypatch, capsys) -> str:
    """The command line's error paragraph, from ``app.main`` run in this process; it fails if the
    command passed every check and would have started work."""
    from collapse_sim import app

    def reached_hydra(*_, **__):
        raise AssertionError("the configuration passed every check and would have started work")

    for started in ("run_composed", "launch_sweep", "inspect"):
        monkeypatch.setattr(app, started, reached_hydra)
    monkeypatch.setattr("sys.argv", ["collapse_sim", *args])
    with pytest.raises(SystemExit) as stopped:
        app.main()
    return one_paragraph(Ran(stopped.value.code, "", capsys.readouterr().err))
