"""Report a run to MLflow: one MLflow run per collapse_sim run, in the experiment named by ``name``.

Chains are metric prefixes of that one run (``chain_00/map50``, ``mean/map50``):
MLflow users compare runs (settings), and a run's chains are one setting's
replicates, best read side by side in one chart. ``step`` is the generation.
The tracking URI is ``logger.mlflow.tracking_uri``, else ``MLFLOW_TRACKING_URI``,
else one SQLite database for every run under the outputs folder
(``outputs/mlflow.db``, artefacts in ``outputs/mlartifacts/``), which works
offline and shows runs side by side (``mlflow ui --backend-store-uri
sqlite:///outputs/mlflow.db``). A sweep is one parent run with a child run per
job. A resumed run continues the same MLflow run (its id is kept in
``mlflow_run_id.txt``).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from collapse_sim.checkpoints import atomic_write
from collapse_sim.components import Tracker
from collapse_sim.config_tree import flatten_config
from collapse_sim.errors import ConfigError
from collapse_sim.loggers import outputs_of, require, sweep_of

RUN_ID_FILE = "mlflow_run_id.txt"
PARENT_ID_FILE = "mlflow_parent_run_id.txt"  # in a sweep folder: the sweep's own MLflow run
PARAMS_PER_BATCH = 100  # MLflow's limit for one log_batch


def check_local_uri(key: str, uri: str) -> None:
    """A ``sqlite:///`` or ``file://`` tracking URI must point into a folder this process can write."""
    for scheme in ("sqlite:///", "file://"):
        if uri.startswith(scheme):
            path = Path("/" + uri.removeprefix(scheme).lstrip("/"))
            folder = path.parent if scheme == "sqlite:///" else path
            existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
            if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
                raise ConfigError(
                    key,
                    f"{uri} cannot be written ({existing} is not a writable folder); give a tracking URI "
                    "in a folder you can write to, or leave it unset for a database inside the run directory",
                )


def check_file_store(key: str, uri: str, *, from_env: bool) -> None:
    """A file store (``file://`` or a plain folder) only where the installed MLflow accepts one.

    MLflow 3 refuses file stores unless ``MLFLOW_ALLOW_FILE_STORE=true`` (its own
    opt-in); without it the run would fail inside, so it is refused here first.
    """
    if "://" in uri and not uri.startswith("file:"):
        return
    try:
        from mlflow.environment_variables import MLFLOW_ALLOW_FILE_STORE
    except ImportError:  # an MLflow that has no opt-in accepts file stores
        return
    if MLFLOW_ALLOW_FILE_STORE.get():
        return
    folder = Path(uri.removeprefix("file://").removeprefix("file:")).expanduser().resolve()
    given = f"{uri} (from MLFLOW_TRACKING_URI)" if from_env else uri
    raise ConfigError(
        key,
        f"{given} is an MLflow file store, which the installed MLflow refuses unless "
        "MLFLOW_ALLOW_FILE_STORE=true is set (MLflow's own opt-in); set it to keep logging there, or "
        f"use a database such as sqlite:///{folder.parent / 'mlflow.db'}, or leave the URI unset for one "
        "inside the run directory",
    )


def open_client(key: str, uri: str):
    """An MlflowClient on ``uri``, whose store MLflow opens (and checks) at once; a store it refuses,
    such as a database written by another MLflow version, is a ConfigError naming the way out."""
    from mlflow.tracking import MlflowClient

    try:
        return MlflowClient(tracking_uri=uri)
    except Exception as error:  # MLflow's own, SQLAlchemy's or Alembic's: each means the store is unusable
        found = str(error).split(". ")[0]
        versions = re.search(r"found version (\w+), but expected (\w+)", found)
        if versions:
            import mlflow

            raise ConfigError(
                key,
                f"{uri} was written by another MLflow version: its schema is {versions[1]}, the installed "
                f"MLflow {mlflow.__version__} expects {versions[2]}; if the database is newer, upgrade "
                "MLflow (pip install -U mlflow); if it is older, back it up and run "
                f"`mlflow db upgrade {uri}`; or log elsewhere with logger.mlflow.tracking_uri=sqlite:///PATH",
            ) from None
        raise ConfigError(
            key, f"MLflow cannot open {uri}: {found}; fix it or give another tracking URI"
        ) from None


class MLflowLogger(Tracker):
    """Log every generation's scalars, the resolved config and overrides, and the plots and report."""

    def __init__(self, *, tracking_uri: str | None = None) -> None:
        require("mlflow", "", "MLflow")
        self.tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        if self.tracking_uri:
            check_local_uri("tracking_uri", self.tracking_uri)
            check_file_store("tracking_uri", self.tracking_uri, from_env=not tracking_uri)
        self.client = self.run_id = self.uri = self.experiment = None
        self.last_step = -1  # the last generation this MLflow run already holds

    def check(self, outputs: Path) -> None:
        """Open the tracking store now, so a database MLflow refuses stops the run before any work
        (``start`` opens it again for the run)."""
        uri = self.tracking_uri or f"sqlite:///{Path(outputs).resolve() / 'mlflow.db'}"
        open_client("logger.mlflow.tracking_uri" if self.tracking_uri else "logger.mlflow", uri)

    def where(self) -> str:
        """The tracking URI, the experiment and the run id, and how to look at them."""
        if self.run_id is None:
            return ""
        line = f"MLflow: run {self.run_id} in experiment {self.experiment!r} at {self.uri}"
        if self.uri.startswith("sqlite:///"):
            line += f"; see it with: mlflow ui --backend-store-uri {self.uri}"
        return line

    def start(self, run_dir: Path, *, name: str, config: dict, overrides: list[str]) -> None:
        """Open (or, resuming, reopen) this run's MLflow run and record its settings."""
        from mlflow.entities import Param

        run_dir = Path(run_dir)
        outputs = outputs_of(run_dir)
        self.uri = self.tracking_uri or f"sqlite:///{outputs / 'mlflow.db'}"
        self.client = open_client("logger.mlflow", self.uri)
        self.experiment = name
        experiment_id = _experiment(self.client, name, outputs)
        kept = run_dir / RUN_ID_FILE
        if kept.exists():
            self.run_id = kept.read_text().strip()
            self.client.update_run(self.run_id, status="RUNNING")
            # A kill between this log and the run's record of it must not log a generation twice.
            metrics = self.client.get_run(self.run_id).data.metrics
            if metrics:
                history = self.client.get_metric_history(self.run_id, next(iter(metrics)))
                self.last_step = max((m.step for m in history), default=-1)
            return
        tags = {"collapse_sim.run_dir": str(run_dir.resolve())}
        sweep = sweep_of(run_dir)
        if sweep is not None:  # a sweep's job: a child of the sweep's run
            tags["mlflow.parentRunId"] = _parent_run(self.client, experiment_id, sweep)
        run = self.client.create_run(experiment_id, run_name=_run_name(run_dir, sweep), tags=tags)
        self.run_id = run.info.run_id
        atomic_write(kept, lambda file: file.write(f"{self.run_id}\n".encode()))
        flat = {k: v if isinstance(v, str) else json.dumps(v) for k, v in flatten_config(config).items()}
        params = [Param(k[:250], v[:6000]) for k, v in flat.items()]
        params.append(Param("overrides", " ".join(overrides)[:6000] or "(none)"))
        for start in range(0, len(params), PARAMS_PER_BATCH):
            self.client.log_batch(self.run_id, params=params[start : start + PARAMS_PER_BATCH])

    def log(self, generation: int, values: dict[str, float]) -> None:
        """One point per metric at step ``generation``, unless the run already holds that step."""
        from mlflow.entities import Metric

        if generation <= self.last_step:
            return
        stamp = int(time.time() * 1000)
        metrics = [Metric(key, value, stamp, generation) for key, value in values.items()]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000])

    def finish(self, files: list[Path], key: dict[str, float]) -> None:
        """Attach the plots and the report, and mark the run finished."""
        for path in files:
            self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id)


def _experiment(client, name: str, outputs: Path) -> str:
    """The id of the experiment ``name``, made (artefacts under ``outputs/mlartifacts``) if new."""
    found = client.get_experiment_by_name(name)
    if found:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=(outputs / "mlartifacts" / name).as_uri())
    except Exception:  # another job of the sweep made it first
        return client.get_experiment_by_name(name).experiment_id


def _run_name(run_dir: Path, sweep: Path | None) -> str:
    return f"{sweep.name}/{Path(run_dir).name}" if sweep is not None else Path(run_dir).name


def _parent_run(client, experiment_id: str, sweep: Path) -> str:
    """The sweep's own MLflow run, made once by whichever job comes first (a lock in the sweep folder)."""
    import fcntl

    kept = sweep / PARENT_ID_FILE
    with open(sweep / ".mlflow_parent.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if kept.exists():
            return kept.read_text().strip()
        parent = client.create_run(
            experiment_id, run_name=sweep.name, tags={"collapse_sim.sweep_dir": str(sweep)}
        )
        atomic_write(kept, lambda file: file.write(f"{parent.info.run_id}\n".encode()))
        return parent.info.run_id


def finish_sweep(sweep: Path, files: list[Path], tracking_uri: str | None = None) -> None:
    """Attach the sweep's report to its MLflow run and mark it finished (once its last job has ended)."""
    kept = Path(sweep) / PARENT_ID_FILE
    if not kept.exists():
        return
    from mlflow.tracking import MlflowClient

    run_id = kept.read_text().strip()
    default = f"sqlite:///{outputs_of(Path(sweep) / 'job') / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default)
    for path in files:
        client.log_artifact(run_id, str(path))
    client.set_terminated(run_id)
