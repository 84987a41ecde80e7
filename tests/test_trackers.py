"""Trackers (MLflow, TensorBoard) read back what a run logged; every run and sweep has a standalone page."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    GAUSSIAN,
    one_paragraph,
    refused_in_process,
    requires_mlflow,
    requires_tensorboard,
    requires_wandb,
    user_env,
)
from PIL import Image

import collapse_sim as cs
from collapse_sim.reporting.intervals import format_interval, mean_interval

ZIPF = ["+experiment=zipf_tail", "+debug=default"]


class Page(HTMLParser):
    """The parts of a page the tests check: images, links, scripts, table cells by table id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images, self.references, self.scripts, self.tables = [], [], 0, {}
        self._table, self._cell = None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "script":
            self.scripts += 1
        for key in ("href", "src"):
            if key in attrs and not str(attrs[key]).startswith("data:"):
                self.references.append(attrs[key])
        if tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = []
        if tag == "tr" and self._table:
            self.tables[self._table].append([])
        if tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append(" ".join(self._cell.split()))
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _check_self_contained(page: Page) -> None:
    assert page.scripts == 0 and page.references == []
    assert page.images
    for uri in page.images:
        assert uri.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).verify()  # every image decodes


@requires_mlflow
def test_mlflow_logs_every_generation_and_a_resumed_run_continues_it(tmp_path, app_cli):
    from mlflow.tracking import MlflowClient

    run_dir = tmp_path / "run"
    first = app_cli(*ZIPF, "generations=2", "logger=mlflow", f"hydra.run.dir={run_dir}")
    assert first.returncode == 0, first.stderr
    run_id = (run_dir / "mlflow_run_id.txt").read_text().strip()
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")  # one store for the runs beside it
    run = client.get_run(run_id)
    assert client.get_experiment(run.info.experiment_id).name == "zipf_tail"
    assert run.data.params["generations"] == "2" and "logger=mlflow" in run.data.params["overrides"]
    history = client.get_metric_history(run_id, "mean/entropy")
    ds = cs.open_run(run_dir)
    assert [m.step for m in history] == [0, 1]
    np.testing.assert_allclose([m.value for m in history], ds.entropy.mean("replicate").values)
    assert {a.path for a in client.list_artifacts(run_id)} >= {"curves.png", "report.html"}
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the summary says where the run went and how to see it
    where = f"MLflow: run {run_id} in experiment 'zipf_tail' at {uri}"
    assert f"{where}; see it with: mlflow ui --backend-store-uri {uri}" in first.stdout
    # A second run lands in the same store, so MLflow's UI shows both side by side.
    second = app_cli(*ZIPF, "generations=2", "seed=1", "logger=mlflow", f"hydra.run.dir={tmp_path / 'run2'}")
    assert second.returncode == 0, second.stderr
    runs = client.search_runs([run.info.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["run", "run2"]
    assert sorted(r.data.params["seed"] for r in runs) == ["0", "1"]


def _offline_network(*args: str) -> list[str]:
    """A command in its own network namespace: loopback only, so nothing can reach the internet."""
    import shlex

    return ["unshare", "-n", "sh", "-c", "ip link set lo up && exec " + shlex.join(args)]


def _wandb_history(run_file: Path) -> list[dict]:
    """The history rows of an offline W&B run file (a LevelDB-style log of protobuf records)."""
    import json

    from wandb.proto import wandb_internal_pb2

    data, at, chunks, pending = run_file.read_bytes(), 7, [], b""  # 7: the ':W&B' header
    while at + 7 <= len(data):
        left = 32768 - at % 32768  # records never cross a 32 KiB block
        if left < 7:
            at += left
            continue
        length, kind = int.from_bytes(data[at + 4 : at + 6], "little"), data[at + 6]
        chunk, at = data[at + 7 : at + 7 + length], at + 7 + length
        if kind in (1, 4):  # a whole record, or the last piece of one
            chunks.append(pending + chunk)
            pending = b""
        elif kind in (2, 3):
            pending += chunk
    rows = []
    for chunk in chunks:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        if record.WhichOneof("record_type") == "history":
            items = {
                item.key or "/".join(item.nested_key): json.loads(item.value_json)
                for item in record.history.item
            }
            rows.append(items | {"_step": record.history.step.num})
    return rows


@pytest.mark.slow
@requires_mlflow
@requires_wandb
def test_a_killed_run_logs_each_generation_once_to_mlflow_and_to_wandb_offline_with_the_network_blocked(
    tmp_path,
):
    import os
    import signal
    import time

    from conftest import ROOT, completed
    from mlflow.tracking import MlflowClient

    # Where no network namespace can be made (unshare -n needs root) the run still goes offline.
    blocked = subprocess.run(_offline_network("true"), capture_output=True).returncode == 0
    run_dir = tmp_path / "run"
    # Slow enough a generation (a third of a second), each written as it ends, to be killed after three;
    # the resume records the other three.
    args = [*GAUSSIAN, "replicates=4000", "n_samples=500", "generations=6", "plots=false", "store_flush_s=0"]
    args.append("logger=[wandb,mlflow]")
    command = [sys.executable, "-m", "collapse_sim", *args, f"hydra.run.dir={run_dir}"]
    command = _offline_network(*command) if blocked else command
    env = {k: v for k, v in user_env().items() if not k.startswith("WANDB_")}
    killed = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while completed(run_dir) < 3 and time.time() < deadline and killed.poll() is None:
        time.sleep(0.02)
    assert killed.poll() is None, "the run finished before it could be killed"
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    resumed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    run_id = (run_dir / "wandb_run_id.txt").read_text().strip()
    folders = sorted((run_dir / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(folders) == 2  # offline W&B cannot reopen a run: the resume wrote a second folder
    rows = _wandb_history(folders[-1] / f"run-{run_id}.wandb")  # what `wandb sync` uploads
    assert [row["_step"] for row in rows] == list(range(6))  # one row per generation, across the kill
    ds = cs.open_run(run_dir)
    last = next(row for row in rows if row["_step"] == 5)
    assert last["mean/variance"] == pytest.approx(float(ds.variance.isel(generation=5).mean()), rel=1e-6)
    # MLflow reopens the same run: one run, every generation once.
    mlflow_id = (run_dir / "mlflow_run_id.txt").read_text().strip()
    client = MlflowClient(f"sqlite:///{run_dir.parent / 'mlflow.db'}")
    assert len(client.search_runs([client.get_run(mlflow_id).info.experiment_id])) == 1
    assert sorted(m.step for m in client.get_metric_history(mlflow_id, "mean/variance")) == list(range(6))
    assert client.get_run(mlflow_id).info.status == "FINISHED"


@requires_mlflow
@requires_tensorboard
def test_tensorboard_and_mlflow_together_log_three_generations_per_metric(tmp_path, app_cli):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    result = app_cli(*ZIPF, "logger=[mlflow,tensorboard]", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"mean/entropy", "mean/gini_simpson", "mean/surviving_classes"} <= set(scalars)
    for tag in scalars:
        assert [e.step for e in events.Scalars(tag)] == [0, 1, 2], tag
    assert "plots/curves" in events.Tags()["images"]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = (run_dir / "mlflow_run_id.txt").read_text().strip()
    for key in client.get_run(run_id).data.metrics:
        assert len(client.get_metric_history(run_id, key)) >= 3, key
    # The settings are TensorBoard HParams, with the key variables' last means as the metrics.
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["seed"].number_value == 0
    assert start.session_start_info.hparams["mixing._target_"].string_value.endswith("ReplaceMixing")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    metrics = [m.name.tag for m in experiment.experiment.metric_infos]
    assert metrics[:3] == ["mean/surviving_classes", "mean/gini_simpson", "mean/entropy"]  # declared order


@pytest.mark.xdist_group("two_chain_run")
@requires_tensorboard
def test_detection_chains_are_logged_per_chain_and_as_their_mean(two_chain_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir = two_chain_run
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"chain_00/map50", "chain_01/map50", "mean/map50"} <= tags
    ds = cs.open_run(run_dir)
    logged = [e.value for e in events.Scalars("chain_01/box_size_distance")]
    np.testing.assert_allclose(logged, ds.box_size_distance.sel(replicate=1).values, rtol=1e-6)
    _detection_page_matches_the_store(run_dir, ds)


def _detection_page_matches_the_store(run_dir: Path, ds) -> None:
    page = Page((run_dir / "report.html").read_text())
    _check_self_contained(page)
    summary = {row[0]: row for row in page.tables["summary"][1:]}
    for name in ("map50_95", "surviving_classes", "box_size_distance"):
        series = ds[name]
        first, last = (mean_interval(series.isel(generation=g).values) for g in (0, -1))
        assert summary[name][1] == format_interval(*first[:3]) and summary[name][2] == format_interval(
            *last[:3]
        )
        assert summary[name][5] == str(last[3])
    drift = page.tables["drift"]
    assert [row[0] for row in drift[1:]] == [str(g) for g in ds.generation.values]
    assert drift[1][1].split() == [str(h) for h in ds.dataset_hash.isel(generation=0).values]
    assert len(page.tables["vanished"]) == ds.sizes["class"] + 1
    text = (run_dir / "report.html").read_text()
    # Reproduce runs the configuration again into a new folder; Resume continues this one.
    reproduce = text.split('<pre id="command">')[1].split("</pre>")[0]
    assert reproduce.startswith("python -m collapse_sim ") and "hydra.run.dir" not in reproduce
    assert f'<pre id="resume">python -m collapse_sim resume={run_dir.resolve()}</pre>' in text
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text, flags=re.S)
    assert any(c.startswith("Each key variable per generation: the 2 chains faint") for c in captions)
    assert all(" " in c and not c.endswith(".png") for c in captions)  # sentences, not file names


def test_every_run_has_its_page(tmp_path, app_cli):
    run_dir = tmp_path / "run"
    assert app_cli(*GAUSSIAN, "+debug=default", f"hydra.run.dir={run_dir}").returncode == 0
    page = Page((run_dir / "report.html").read_text())
    _check_self_contained(page)
    assert "drift" not in page.tables and len(page.tables["summary"]) > 3


@pytest.mark.slow
def test_a_reported_sweep_has_its_page(tmp_path, app_cli):
    sweep = tmp_path / "sweep"
    result = app_cli("-m", *ZIPF, "mixing=replace,accumulate", "plots=false", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    report = subprocess.run(
        [sys.executable, "-m", "collapse_sim.report", str(sweep)], capture_output=True, text=True
    )
    assert report.returncode == 0, report.stderr
    page = Page((sweep / "sweep.html").read_text())
    _check_self_contained(page)
    rows = page.tables["comparison"]
    assert rows[0][:3] == ["variable", "arm", "reference"]
    entropy = next(row for row in rows if row[0] == "entropy")
    assert entropy[1:3] == ["mixing=accumulate", "mixing=replace"] and entropy[-1] == "2 vs 2"
    assert re.fullmatch(r"-?[\d.e+-]+ \[-?[\d.e+-]+, -?[\d.e+-]+\]", entropy[5])


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["logger=neptune"],
            "logger: has no option 'neptune'; valid options: mlflow, none, tensorboard, wandb",
        ),
        pytest.param(
            ["logger=wandb", "logger.wandb.mode=disabled"],
            "logger.wandb.mode: is 'disabled'; collapse_sim logs",
            marks=requires_wandb,
        ),
        pytest.param(
            ["logger=mlflow", "logger.mlflow.tracking_uri=sqlite:///TMP/a_file/mlflow.db"],
            "logger.mlflow.tracking_uri: sqlite:///TMP/a_file/mlflow.db cannot be written",
            marks=requires_mlflow,
        ),
    ],
)
def test_bad_logger_settings_stop_before_any_work(tmp_path, overrides, expected, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    (tmp_path / "a_file").write_text("not a folder")  # nothing can be written below a file, even as root
    overrides = [o.replace("TMP", str(tmp_path)) for o in overrides]
    expected = expected.replace("TMP", str(tmp_path))
    assert expected in refused_in_process(
        [*ZIPF, *overrides, f"hydra.run.dir={run_dir}"], monkeypatch, capsys
    )
    assert not run_dir.exists()


@requires_mlflow
def test_an_mlflow_file_store_is_refused_up_front_unless_mlflow_s_own_opt_in_is_set(
    tmp_path, monkeypatch, app_cli
):
    run_dir, store = tmp_path / "run", tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    message = one_paragraph(app_cli(*ZIPF, "logger=mlflow", f"hydra.run.dir={run_dir}"))
    assert (
        f"logger.mlflow.tracking_uri: {store.as_uri()} (from MLFLOW_TRACKING_URI) is an MLflow file store"
        in message
    )
    assert "MLFLOW_ALLOW_FILE_STORE=true" in message and f"sqlite:///{tmp_path / 'mlflow.db'}" in message
    assert not run_dir.exists() and not store.exists()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    logged = app_cli(*ZIPF, "generations=2", "logger=mlflow", f"hydra.run.dir={run_dir}")
    assert logged.returncode == 0, logged.stderr
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store.as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("zipf_tail").experiment_id])
    assert [m.step for m in client.get_metric_history(run.info.run_id, "mean/entropy")] == [0, 1]


@requires_mlflow
def test_the_trackers_extra_brings_mlflow_s_ui_server():
    import importlib.util

    import mlflow

    # mlflow-skinny logs but has no `mlflow ui`: neither its web page nor Flask, which serves it.
    page = Path(mlflow.__file__).parent / "server" / "js" / "build" / "index.html"
    assert page.is_file() and importlib.util.find_spec("flask") is not None


@requires_mlflow
def test_a_database_of_another_mlflow_version_stops_the_run_before_any_work(tmp_path, app_cli):
    import sqlalchemy
    from mlflow.store.db import utils  # noqa: F401  (registers every table MLflow checks for in Base)
    from mlflow.store.db.base_sql_model import Base

    database = tmp_path / "mlflow.db"  # MLflow's tables, at a schema version this MLflow does not know
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    with engine.begin() as made:
        for table in Base.metadata.tables:
            made.execute(sqlalchemy.text(f"CREATE TABLE {table} (id INTEGER)"))
        made.execute(sqlalchemy.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        made.execute(sqlalchemy.text("INSERT INTO alembic_version VALUES ('0123456789ab')"))
    engine.dispose()
    written = database.read_bytes()
    run_dir = tmp_path / "run"
    refused = app_cli(*ZIPF, "logger=mlflow", f"hydra.run.dir={run_dir}")
    message = one_paragraph(refused)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    refusal = f"logger.mlflow: sqlite:///{database} was written by another MLflow version"
    assert f"{refusal}: its schema is 0123456789ab" in message
    assert f"mlflow db upgrade sqlite:///{database}" in message and "pip install -U mlflow" in message
    assert not run_dir.exists() and database.read_bytes() == written  # no unfinished run to refuse a rerun


def test_a_tracker_that_is_not_installed_names_the_extra(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import importlib.util\n_find = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'mlflow' else _find(name, *a)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "collapse_sim", *ZIPF, "logger=mlflow", f"hydra.run.dir={tmp_path / 'run'}"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(blocker), "PATH": "/usr/bin:/bin"},
    )
    message = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "logger.mlflow: needs MLflow" in message and 'pip install -e ".[trackers]"' in message


@requires_mlflow
def test_a_reopened_mlflow_run_skips_the_generations_it_already_holds(tmp_path):
    """Killed after MLflow stored a generation but before the run recorded that: it is not logged twice."""
    from mlflow.tracking import MlflowClient

    from collapse_sim.loggers.mlflow_logger import MLflowLogger

    run_dir = tmp_path / "run"  # its MLflow store is beside it, in tmp_path
    run_dir.mkdir()
    first = MLflowLogger()
    first.start(run_dir, name="reopened", config={"seed": 0}, overrides=[])
    for generation in range(3):
        first.log(generation, {"mean/variance": float(generation)})
    again = MLflowLogger()  # the resumed process, told to log generation 2 again
    again.start(run_dir, name="reopened", config={"seed": 0}, overrides=[])
    for generation in (2, 3):
        again.log(generation, {"mean/variance": float(generation)})
    client = MlflowClient(f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}")
    steps = [m.step for m in client.get_metric_history(again.run_id, "mean/variance")]
    assert sorted(steps) == [0, 1, 2, 3] and again.run_id == first.run_id


@requires_mlflow
def test_a_sweep_is_one_mlflow_run_with_a_child_run_per_job(tmp_path, app_cli):
    from mlflow.tracking import MlflowClient

    sweep = tmp_path / "outputs" / "multirun" / "zipf_tail" / "sweep"
    result = app_cli("-m", *ZIPF, "seed=0,1", "logger=mlflow", "plots=false", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr
    client = MlflowClient(f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}")  # the outputs folder's store
    runs = client.search_runs([client.get_experiment_by_name("zipf_tail").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.run_name == "sweep" and parent.info.status == "FINISHED"
    assert sorted(r.info.run_name for r in children) == ["sweep/0", "sweep/1"]
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} == {"sweep.html"}


@requires_wandb
def test_a_sweep_s_jobs_are_one_wandb_group(tmp_path, monkeypatch):
    from collapse_sim.loggers.wandb_logger import WandbLogger

    monkeypatch.setenv("WANDB_SILENT", "true")
    sweep = tmp_path / "sweep"
    (sweep / "3").mkdir(parents=True)
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    logger = WandbLogger(mode="offline")
    logger.start(sweep / "3", name="zipf_tail", config={"seed": 3}, overrides=["seed=3"])
    try:
        assert logger.run.group == "sweep" and logger.run.name == "sweep/3"
    finally:
        logger.run.finish()
