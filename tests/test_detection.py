"""YOLO detection runs at tiny size: each generator, verification, metrics, warm start, resume, offline."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from conftest import ROOT, assert_scores_match_ultralytics_val
from conftest import TINY_DETECTION as TINY_ANY

import collapse_sim as cs
from collapse_sim.components import RunContext
from collapse_sim.devices import resolve_device
from collapse_sim.errors import ConfigError
from collapse_sim.metrics.detection import DetectionMetrics
from collapse_sim.sources.shapes import ShapesSource
from collapse_sim.trainers.yolo import YOLOTrainer
from collapse_sim.yolo.files import write_dataset
from collapse_sim.yolo.settings import check_model

# These tests are about the stock trainer and its files; tests/test_yolo_fast.py covers the training core.
TINY_DETECTION = (*TINY_ANY, "trainer=yolo")


def test_scene_model_run_records_every_detection_variable():
    ds = cs.run(list(TINY_DETECTION)).isel(replicate=0)  # one chain
    assert ds.sizes["generation"] == 2 and list(ds.real_fraction.values) == [1.0, 0.0]
    for name in ("map50", "map50_95", "box_size_distance", "entropy", "gini_simpson", "surviving_classes"):
        assert np.isfinite(ds[name]).all(), name
    assert ds.ap50_95.dims == ("generation", "class") and ds.recall.dims == ("generation", "class")
    assert list(ds.size_bin.values) == ["small", "medium", "large"]
    # Rendered scenes carry exact labels; generation 0 is the real pool itself.
    assert float(ds.label_precision[1]) == float(ds.label_recall[1]) == 1.0
    assert float(ds.box_size_distance[0]) == 0.0 and float(ds.missing_mass[0]) == 0.0


def test_verified_pseudo_labels_are_exactly_right():
    ds = cs.run(
        [
            *TINY_ANY,
            "generator=pseudo_label",
            "generator.conf=0.001",
            "source.pool_size=32",
            "generator.n=32",
            "mixing=verified",
            "mixing.real_fraction=0.5",
        ]
    ).isel(replicate=0)
    # A one-epoch detector labels badly; a perfect verifier (phi=1, psi=0) lets none of that through.
    assert float(ds.real_fraction[1]) == 1.0 and float(ds.label_precision[1]) == 1.0
    unverified = cs.run(
        [
            *TINY_ANY,
            "generator=pseudo_label",
            "generator.conf=0.001",
            "source.pool_size=32",
            "generator.n=32",
            "mixing=verified",
            "mixing.psi=1.0",
            "mixing.real_fraction=0.5",
        ]
    ).isel(replicate=0)
    assert float(unverified.real_fraction[1]) == 0.5 and float(unverified.label_precision[1]) < 0.5


@pytest.mark.slow
@pytest.mark.xdist_group("trained")  # one worker trains the session's detector once for its tests
def test_our_scores_match_ultralytics_validator(trained):
    detector, real, folder = trained
    ours = DetectionMetrics().measure(detector, real.train, real)
    test_yaml = write_dataset(folder / "test_set", real.test, val_images=len(real.test))
    assert float(ours.map50) > 0.2, "the detector should have learned three easy classes"
    assert_scores_match_ultralytics_val(ours, detector, test_yaml, "val", folder)


OFFLINE_RUNNER = """
import runpy, socket, sys, traceback
attempts = []
def refuse(*args, **kwargs):
    attempts.append("".join(traceback.format_stack(limit=40)))
    raise OSError("network access is not allowed in this test")
socket.getaddrinfo = refuse
socket.create_connection = refuse
socket.socket.connect = refuse
sys.argv = ["collapse_sim", *sys.argv[1:]]
# An exit hook, not a `finally`: the command ends the process itself once its exit hooks have run.
import atexit
atexit.register(lambda: print("NETWORK_ATTEMPTS", len(attempts), *attempts, file=sys.stderr, flush=True))
runpy.run_module("collapse_sim", run_name="__main__")
"""


def offline(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """The command line with every network call refused and counted (``NETWORK_ATTEMPTS n`` on stderr)."""
    return subprocess.run(
        [sys.executable, "-c", OFFLINE_RUNNER, *args, f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_warm_start_fine_tunes_the_previous_weights_and_the_stock_trainer_never_touches_the_network(tmp_path):
    result = offline(tmp_path, *TINY_DETECTION, "warm_start=true", "plots=false")
    assert result.returncode == 0, result.stderr
    assert "NETWORK_ATTEMPTS 0" in result.stderr
    chain = tmp_path / "chain_00"
    args = yaml.safe_load((chain / "generations" / "001" / "train" / "args.yaml").read_text())
    assert args["model"] == str(chain / "generations" / "000" / "train" / "weights" / "last.pt")
    assert args["pretrained"] is True
    # Each generation's dataset folder is its version: the stored hash names its content.
    for g, digest in enumerate(str(h) for h in cs.open_run(tmp_path).dataset_hash.isel(replicate=0).values):
        spec = (chain / "generations" / f"{g:03d}" / "dataset" / "data.yaml").read_text()
        assert f"version: {digest}" in spec


@pytest.mark.slow
def test_a_run_of_the_training_core_never_touches_the_network(tmp_path):
    result = offline(tmp_path, *TINY_ANY, "trainer=yolo_fast")
    assert result.returncode == 0, result.stderr
    assert "NETWORK_ATTEMPTS 0" in result.stderr


def test_model_names_resolve_without_a_download(tmp_path):
    assert check_model("yolo26n.yaml") == "yolo26n.yaml"
    assert check_model("yolo11s.yaml") == "yolo11s.yaml"  # scale letter read from the name
    local = tmp_path / "weights.pt"
    local.write_bytes(b"")
    assert check_model(str(local)) == str(local.resolve())
    with pytest.raises(ConfigError, match="is not a file; pretrained weights are read only from a local"):
        check_model("yolo26n.pt")


def test_devices_resolve_to_what_exists():
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda:0" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="must be auto, cpu, cuda, cuda:<index> or a GPU index"):
        resolve_device("gpu0")
    if torch.cuda.is_available():  # Ultralytics' device=0 is the first GPU
        assert resolve_device(0) == resolve_device("0") == "cuda:0"
    else:
        with pytest.raises(ConfigError, match="asks for cuda:0 but"):
            resolve_device(0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's driver files")
def test_without_a_gpu_driver_the_device_is_resolved_without_importing_torch(monkeypatch):
    """No driver's files (``GPU_DRIVER_FILES``): auto is the CPU, cuda is refused, and torch is not
    imported to learn it (a fresh interpreter: this one has torch already)."""
    import subprocess

    from collapse_sim import devices

    monkeypatch.setattr(devices, "GPU_DRIVER_FILES", ("/nonexistent/nvidia",))
    assert devices.no_gpu_driver() and resolve_device("auto") == "cpu"
    with pytest.raises(ConfigError, match="asks for cuda:1 but this machine has no GPU driver"):
        resolve_device("cuda:1")
    code = (
        "import sys; from collapse_sim import devices; devices.GPU_DRIVER_FILES = ('/nonexistent/nvidia',);"
        "print(devices.resolve_device('auto'), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["cpu", "False"]


@pytest.mark.cuda
def test_training_and_scoring_on_cuda(tmp_path):
    real = ShapesSource(pool_size=16, test_size=8).load(np.random.default_rng(0))
    trainer = YOLOTrainer(epochs=1, batch=8, device="cuda")
    trainer.setup(RunContext(tmp_path, 0))
    detector = trainer.fit(real.train, init=None, rng=np.random.default_rng(1), generation=0)
    assert detector.device == "cuda:0"
    scores = DetectionMetrics().measure(detector, real.train, real)
    assert np.isfinite(float(scores.map50_95))


@pytest.mark.xdist_group("trained")
def test_training_uses_exactly_the_trainers_thread_count(trained):
    import torch

    # On a CPU the result depends on the thread count, so it is a setting (trainer.threads, 1 by default),
    # not what Ultralytics would pick (cores - 1) or the machine's core count.
    assert torch.get_num_threads() == YOLOTrainer().threads == 1


@pytest.mark.parametrize(("asked", "threads"), [("1", 1), ("", len(os.sched_getaffinity(0)))])
def test_thread_count_follows_omp_num_threads_as_it_was_before_ultralytics(asked, threads):
    # joblib gives each worker cores / n_jobs; Ultralytics' import sets OMP_NUM_THREADS=1 when unset,
    # which must not turn every run single-threaded.
    code = (
        "from collapse_sim.yolo.runtime import cpu_threads, ultralytics; ultralytics(); print(cpu_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"} | (
        {"OMP_NUM_THREADS": asked} if asked else {}
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert int(out.stdout.split()[-1]) == threads
