"""Every script users are told to run (benchmarks/, docs/) runs at a tiny size, so none rots unseen."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, TINY_DETECTION, run_cli

SCRIPTS = {
    "benchmarks/toy_loop.py": [
        "--replicates",
        "20",
        "--generations",
        "5",
        "--samples",
        "10",
        "--baseline-replicates",
        "2",
    ],
    "benchmarks/chains.py": [
        "--chains",
        "2",
        "--extra",
        "generations=1",
        "n_samples=16",
        "source.test_size=12",
        "trainer.epochs=1",
        "trainer.batch=8",
    ],
    "benchmarks/step_profile.py": ["--imgsz", "32", "--images", "16", "--batch", "8", "--epochs", "1"],
    "benchmarks/train_core.py": [
        "--imgsz",
        "32",
        "--images",
        "16",
        "--batch",
        "8",
        "--epochs",
        "1",
        "--seeds",
        "1",
    ],
}
DOCS_SCRIPTS = ("docs/tail_loss_figure.py",)


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOLO_")}
    return subprocess.run(
        [sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )


def test_every_script_has_a_smoke_test():
    found = {
        str(p.relative_to(ROOT)) for folder in ("benchmarks", "docs") for p in (ROOT / folder).glob("*.py")
    }
    assert found == set(SCRIPTS) | set(DOCS_SCRIPTS)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_runs_and_prints_json_last(script):
    result = _run(script, *SCRIPTS[script])
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["benchmark"] == script.removeprefix("benchmarks/").removesuffix(".py")
    if script.endswith("toy_loop.py"):
        assert summary["vectorised_s"] > 0 and abs(summary["same_process_z"]) < 5
    if script.endswith("chains.py"):
        assert summary["identical_chains"] is True and summary["throughput_ratio"] > 0


@pytest.mark.slow
def test_tail_loss_figure_draws_from_run_directories(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("+experiment=tail_loss", *TINY_DETECTION, "plots=false", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "figure.png"
    drawn = _run("docs/tail_loss_figure.py", str(run_dir), str(run_dir), "--out", str(out))
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
