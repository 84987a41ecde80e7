"""Every script users are told to run (benchmarks/, docs/) runs at a tiny size, so none rots unseen."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, TEXT_MARKS, requires_gensim, user_env
from test_text import corpus, text_run

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
    "benchmarks/chains.py": [  # one chain: no worker to spawn (test_chains runs chains side by side)
        "--chains",
        "1",
        "--extra",
        "generations=1",
        "n_samples=16",
        "source.test_size=12",
        "trainer.epochs=1",
        "trainer.batch=8",
    ],
    "benchmarks/image_core.py": ["--iterations", "3", "--batch", "8", "--images", "8", "--steps", "3"],
    "benchmarks/step_profile.py": [
        *("--imgsz", "32", "--images", "16", "--batch", "8", "--epochs", "1"),
        *("--floor-s", "0.05", "--profile-repeats", "1"),  # a smoke test times nothing it reports
    ],
    "benchmarks/startup.py": ["--repeats", "1", "--settings", "gaussian_1x1"],
    "benchmarks/text_core.py": [
        "--steps",
        "4",
        "--batch",
        "4",
        "--passage",
        "16",
        "--rows",
        "8",
        "--new",
        "16",
    ],
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
        "--test-size",
        "8",
        "--same-process",  # one interpreter: the smoke test checks that it runs, not what it measures
        *("--floor-s", "0.05"),
    ],
}
DOCS_SCRIPTS = (  # crops_figure's smoke test is in test_sprites (it needs a sprite run)
    "docs/arms_figure.py",
    "docs/crops_figure.py",
    "docs/gaussian_figure.py",
    "docs/replications.py",
    "docs/scene_law_drift.py",
    "docs/shumailov_figure.py",
)


# Benchmarks whose smoke test runs a fresh interpreter: they time interpreters (startup.py) or the runs they
# start (chains.py). Every other script runs in the test's own interpreter (``run_here``).
FRESH_INTERPRETER = {"benchmarks/chains.py", "benchmarks/startup.py"}


def _run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=user_env()
    )


HELPERS = ("benchmarks/plain_loops.py",)  # run by startup.py, so by its smoke test


def test_every_script_has_a_smoke_test():
    found = {
        str(p.relative_to(ROOT)) for folder in ("benchmarks", "docs") for p in (ROOT / folder).glob("*.py")
    }
    assert found == set(SCRIPTS) | set(DOCS_SCRIPTS) | set(HELPERS)


def test_the_cuda_check_refuses_clearly_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: run benchmarks/cuda_check.sh itself (minutes)")
    result = subprocess.run(
        ["bash", "benchmarks/cuda_check.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=user_env(),
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "torch sees no CUDA device" in result.stderr and "nothing to measure" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_runs_and_prints_json_last(script, run_here):
    result = (_run if script in FRESH_INTERPRETER else run_here)(script, *SCRIPTS[script])
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["benchmark"] == script.removeprefix("benchmarks/").removesuffix(".py")
    if script.endswith("toy_loop.py"):
        assert summary["vectorised_s"] > 0 and abs(summary["same_process_z"]) < 5
    if script.endswith("text_core.py"):
        assert summary["same_tokens"] is True and summary["kv_cache_speedup"] > 0
        assert summary["beam5_tokens_per_s"] > 0 and summary["beam5_time_over_sampling"] > 0
        assert summary["forward_5x_rows_over_rows"] > 0
        assert summary["train_tokens_per_s"] > 0 and 0 < summary["flop_fraction"] < 1
        assert summary["hf_same_tokens"] is True and summary["hf_parameters"] > 0
        assert summary["hf_train_tokens_per_s"] > 0 and summary["hf_beam5_tokens_per_s"] > 0
    if script.endswith("image_core.py"):
        assert summary["train_images_per_s"] > 0 and 0 < summary["train_flop_fraction"] < 1
        # Both samplers ran; which is faster at 3 iterations on a shared CPU is a timing, not a test
        # (guidance's cost is measured at full size in benchmarks/README.md).
        assert summary["sample_images_per_s"] > 0 and summary["sample_images_per_s_guided"] > 0
        assert 0 < summary["sample_flop_fraction"] < 1 and summary["image_size"] == [8, 8]
        rows = {row["trainer"]: row for row in summary["trainers"]}
        assert set(rows) == {"ddpm", "diffusers_unet"}  # the dev extra installs diffusers
        assert rows["diffusers_unet"]["train_images_per_s"] > 0 and summary["ddpm_over_diffusers_sample"] > 0
        assert 100_000 < rows["ddpm"]["parameters"] < rows["diffusers_unet"]["parameters"] < 200_000
    if script.endswith("chains.py"):
        assert summary["identical_chains"] is True and summary["throughput_ratio"] > 0
    if script.endswith("startup.py"):
        phases = summary["phases_s"]
        assert set(phases) >= {"imports", "compose", "build", "generation", "plots", "report", "exit"}
        assert 0 < summary["refused_s"] < summary["toy_run_s"] and summary["matmul_peak_gflops"] > 0
        assert summary["imports_floor_s"] > 0
        (row,) = summary["settings"]
        assert row["setting"] == "gaussian_1x1" and row["plain_numpy_s"] > 0 and row["ratio"] > 0


@pytest.mark.slow
@pytest.mark.xdist_group("two_chain_run")
def test_arms_figure_draws_from_run_directories(two_chain_run, tmp_path, run_here):
    _, run_dir = two_chain_run
    out = tmp_path / "figure.png"
    args = ("--out", str(out), "--metrics", "map50", "rare_recall", "--labels", "replace", "again")
    drawn = run_here("docs/arms_figure.py", str(run_dir), str(run_dir), *args)
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(drawn.stdout.strip().splitlines()[-1])
    assert list(summary["arms"]) == ["replace", "again"]
    first, again = summary["arms"]["replace"], summary["arms"]["again"]
    assert first["chains"] == 2 and len(first["map50"]["relative_change_per_chain"]) == 2
    assert again["rare_recall"]["last_minus_first_arm"][0] == 0.0  # the same run against itself

    unnamed = run_here("docs/arms_figure.py", str(run_dir), "--out", str(out), "--metrics", "ap50_95")
    assert unnamed.returncode != 0 and "ap50_95 has dimensions" in unnamed.stderr


def test_scene_law_drift_prints_every_generation_as_json(run_here):
    result = run_here("docs/scene_law_drift.py", "--chains", "3", "--generations", "2", "--images", "30")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert [row["generation"] for row in summary["generations"]] == [0, 1]
    first = summary["generations"][0]
    # Generation 0 refits the real images: every chain reads the same colours, so the interval is a point.
    for estimate in ("centre", "mask"):
        assert first[f"colour_error_rarest_{estimate}"][1] == pytest.approx(
            first[f"colour_error_rarest_{estimate}"][2]
        )
        assert first[f"colour_spread_commonest_{estimate}"][0] > 0


def test_replications_runs_its_rows_and_prints_json_last(run_here):
    """One of the page's rows at full size (its cheapest, two seconds): the distance retraining grows is the
    exact curve's at the first and the last generation, within the interval over 4000 chains an arm."""
    result = run_here("docs/replications.py", "--only", "bertrand")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["matmul_peak_gflops"] > 0 and set(summary["rows"]) == {"bertrand"}
    arms = [row for row in summary["rows"]["bertrand"].values() if isinstance(row, dict)]
    assert len(arms) == 4
    for row in arms:
        for measured, exact in zip((row["generation_1"], row["generation_14"]), row["exact"], strict=True):
            low, high = (float(v) for v in measured.split("[")[1].rstrip("]").split(","))
            assert low <= exact <= high, row


@requires_gensim
@TEXT_MARKS[0]
@TEXT_MARKS[1]
def test_shumailov_figure_draws_both_arms(tmp_path, app_cli, run_here):
    small = (*text_run(corpus(tmp_path / "corpus")), "plots=false")  # a small corpus, by characters
    runs = [tmp_path / "replace", tmp_path / "fraction"]
    for run, mixing in zip(
        runs, (["mixing=replace"], ["mixing=fraction", "mixing.real_fraction=0.1"]), strict=True
    ):
        result = app_cli(*small, *mixing, f"hydra.run.dir={run}")
        assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "shumailov.png"
    drawn = run_here(
        "docs/shumailov_figure.py", *map(str, runs), "--out", str(out), "--chars-per-token", "2.5"
    )
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    summary = json.loads(drawn.stdout.strip().splitlines()[-1])
    arm = summary["no original data kept"]
    assert arm["chains"] == 2 and len(arm["test_bits_per_char"]) == 3 and len(arm["gen0_median"]) == 3
    assert len(arm["test_perplexity_per_token"]) == 3 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gaussian_figure_draws_the_run_beside_theory(tmp_path, app_cli, run_here):
    run_dir = tmp_path / "run"
    args = ("+experiment=gaussian_collapse", "+debug=default", "plots=false", f"hydra.run.dir={run_dir}")
    result = app_cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "gaussian.png"
    drawn = run_here("docs/gaussian_figure.py", str(run_dir), "--out", str(out))
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    summary = json.loads(drawn.stdout.strip().splitlines()[-1])
    assert summary["chains"] == 2 and summary["generations"] == 3
    assert summary["theory_mean_last"] == pytest.approx(1.0)  # unbiased refits keep E[variance]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
