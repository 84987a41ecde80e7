"""Bad models, devices and run folders: one paragraph naming the culprit, exit 2, nothing damaged.

Config typos, ranges and options are in test_errors.py; bad datasets in
test_yolo_dataset.py; the training core's settings in test_yolo_fast.py.
"""

from __future__ import annotations

import os

import pytest
from conftest import GAUSSIAN, TINY_DETECTION, named_checkpoint, refused_in_process

from collapse_sim.config import register_schema
from collapse_sim.errors import ConfigError
from collapse_sim.preflight import preflight


@pytest.fixture(scope="module")
def three_class_weights(tmp_path_factory):
    """A real Ultralytics checkpoint of a 3-class YOLO26n under YOLO's placeholder names (checked by count
    alone)."""
    return named_checkpoint(tmp_path_factory.mktemp("weights") / "three.pt", ("0", "1", "2"))


@pytest.mark.parametrize("trainer", ["yolo", "yolo_fast"])
def test_a_checkpoint_with_another_class_count_is_refused(
    tmp_path, three_class_weights, trainer, monkeypatch, capsys
):
    args = [*TINY_DETECTION, f"trainer={trainer}", f"trainer.model={three_class_weights}"]
    message = refused_in_process([*args, f"hydra.run.dir={tmp_path / 'run'}"], monkeypatch, capsys)
    assert f"trainer.model: {three_class_weights} predicts 3 classes but the data has 8" in message
    assert "or the model's YAML (e.g. yolo26n.yaml) to train from scratch" in message
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_with_the_right_class_count_is_accepted(tmp_path, three_class_weights, app_cli):
    result = app_cli(
        *TINY_DETECTION,
        "trainer=yolo_fast",
        "source.n_classes=3",
        f"trainer.model={three_class_weights}",
        "generations=1",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 0, result.stderr


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path, monkeypatch, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"these bytes are not a torch checkpoint")
    args = [*TINY_DETECTION, f"trainer.model={junk}", f"hydra.run.dir={tmp_path / 'run'}"]
    message = refused_in_process(args, monkeypatch, capsys)
    assert f"trainer.model: {junk} cannot be read as an Ultralytics checkpoint" in message
    assert junk.read_bytes() == b"these bytes are not a torch checkpoint"  # nothing written over it


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_is_refused(tmp_path, device, monkeypatch, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: asking for it is valid")
    args = ["trainer=yolo_fast", f"trainer.device={device}", f"hydra.run.dir={tmp_path / 'r'}"]
    message = refused_in_process(args, monkeypatch, capsys)
    assert f"trainer.device: asks for {device} but this machine has" in message
    # no driver at all (this machine: torch is not even imported), or a driver and no device torch sees
    assert "no GPU driver loaded (no CUDA device)" in message or "0 CUDA device(s)" in message
    assert "use trainer.device=cpu or trainer.device=auto" in message


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "the working folder"])
def test_a_read_only_run_folder_is_refused_and_named_in_full(tmp_path, monkeypatch, relative):
    # Everything runs as root here, which writes anywhere; the check itself is what is tested.
    folder = tmp_path / "read_only"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if str(p) in (str(folder), ".") else real_access(p, mode)
    )
    monkeypatch.chdir(folder)  # a relative run folder is named as the full path, never as "."
    register_schema()  # what main() does before preflight
    where = "run" if relative else folder / "run"
    with pytest.raises(ConfigError, match=f"hydra.run.dir: {folder} is not writable; choose a folder"):
        preflight([*GAUSSIAN, f"hydra.run.dir={where}"])
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("shared/a.zarr", "store_url: must be a URL such as file:///shared/runs/a.zarr or memory://a.zarr"),
        ("nosuch://bucket/a.zarr", "store_url: nosuch:// cannot be used here"),
    ],
)
def test_a_bad_store_url_is_refused(tmp_path, url, message, monkeypatch, capsys):
    args = [*GAUSSIAN, "+debug=default", f"store_url={url}", f"hydra.run.dir={tmp_path / 'run'}"]
    assert message in refused_in_process(args, monkeypatch, capsys)
    assert not (tmp_path / "run").exists()


def test_a_run_writes_its_store_to_a_file_url_and_resumes_there(tmp_path, app_cli):
    import collapse_sim as cs

    url = f"file://{tmp_path}/shared/run.zarr"
    args = (
        *GAUSSIAN,
        "+debug=default",
        "plots=false",
        f"store_url={url}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    first = app_cli(*args)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "shared" / "run.zarr").is_dir() and not (tmp_path / "run" / "results.zarr").exists()
    assert bool(cs.open_run(tmp_path / "run").completed.all())
    again = app_cli(*args)
    assert again.returncode == 0 and "generations are already complete" in again.stdout
