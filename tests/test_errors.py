"""Config mistakes stop before any work: exit 2, one paragraph naming the key and valid choices."""

from __future__ import annotations

import pytest
from conftest import GAUSSIAN, one_paragraph, refused_in_process, run_cli

TOY_CASES = [
    (
        ["generatons=3"],
        "valid top-level settings: name, generations, n_samples, replicates, workers, seed, "
        "warm_start, lineages, plots, store_url, store_flush_s, source, generator, mixing, trainer, metrics, "
        "logger, reward, warning; "
        "did you mean generations?",
    ),
    (
        ["source.dimm=2"],
        "source.dimm: is not a setting here; valid settings of 'source': dim, mean, std, "
        "pool_size, test_size, replicates; did you mean dim?",
    ),
    (["mixing=replac"], "replace, retrain, verified, weighted; did you mean replace?"),
    (
        ["+generator.temprature=2"],
        "generator.temprature: is not a setting of collapse_sim.generators."
        "refit_sample.RefitSampleGenerator; valid settings: n, temperature, top_k, top_p; did you mean "
        "temperature?",
    ),
    (
        ["generationz=3"],
        "generationz: is not a setting here; valid top-level settings: name, generations",
    ),
    (
        ["+generationz=3"],
        "generationz: is not a collapse_sim setting; valid top-level settings: name, generations",
    ),
    # A setting given at the top that belongs to a component is placed under it.
    (["temperature=0.5"], "did you mean generator.temperature?"),
    (
        ["real_fraction=0.2"],
        "real_fraction is a setting of mixing=fraction, fresh, verified, weighted: choose one and set it "
        "under it, e.g. mixing=fraction mixing.real_fraction=VALUE",
    ),
    (
        ["+generations=5"],
        "generations: is already a setting, so it is given without a +: generations=5 (a + adds a key",
    ),
    # The experiment set it, not the user: say so, and the two ways on.
    (
        ["+experiment=curation", "mixing=replace"],
        "mixing.real_fraction: is not a setting of collapse_sim.mixing.ReplaceMixing; valid settings: "
        "(none). You did not set mixing.real_fraction: +experiment=curation did (",
    ),
    (
        ["+experiment=curation", "mixing=replace"],
        "curation.yaml), for its own mixing; keep the experiment's mixing=fraction, or drop the setting "
        "with ~mixing.real_fraction",
    ),
    (["generations=abc"], "generations: must be of type integer, got 'abc' (str)"),
    (["n_samples=0"], "n_samples: must be an integer >= 1, got 0"),
    (["generations=0"], "generations: must be an integer >= 1, got 0"),
    (["replicates=0"], "replicates: must be an integer >= 1, got 0"),
    (
        ["mixing=fraction", "mixing.real_fraction=1.5"],
        "mixing.real_fraction: must be in [0, 1], got 1.5",
    ),
    (
        ["mixing=fresh", "mixing.real_fraction=-0.1"],
        "mixing.real_fraction: must be in [0, 1], got -0.1",
    ),
    (
        ["generator.temperature=0"],
        "generator.temperature: must be > 0 (1 = faithful sampling), got 0",
    ),
    (
        ["mixing=foo"],
        "mixing: has no option 'foo'; valid options: accumulate, accumulate_subsample, filtered, fraction,",
    ),
    (
        ["+experiment=nope"],
        "experiment: has no option 'nope'; valid options: accumulate_vs_replace,",
    ),
    (
        ["source.dimm=3"],
        "source.dimm: is not a setting here; valid settings of 'source': dim, mean, std,",
    ),
    (
        ["+source.dimm=3"],
        "source.dimm: is not a setting of collapse_sim.sources.gaussian.GaussianSource; valid",
    ),
    (["source.dim=abc"], "source.dim: must be int, got 'abc' (str)"),
    (["mixing.real_fraction=0.5"], "mixing.real_fraction: is not a setting here; 'mixing'"),
    (
        ["source=zipf"],
        "trainer: trainer=gaussian_fit needs gaussian data, which source=zipf does not provide;"
        " options that provide it: source=gaussian, gmm",
    ),
    (
        ["generator.top_k=3"],
        "generator: generator=refit_sample needs sampling option top_k, which trainer=gaussian_fit "
        "does not provide; options that provide it: trainer=categorical_fit",
    ),
    (["trainer.ddof=2"], "trainer.ddof: must be 0 (maximum likelihood) or 1 (unbiased), got 2"),
    (["source.std=[1,2]"], "source.std: must be one number or a list of 1 numbers (source.dim)"),
    (["source.pool_size=10", "n_samples=20"], "source.pool_size: holds 10 real samples per replicate"),
    (
        ["source=linreg", "trainer=ols", "generator=relabel", "metrics=regression", "n_samples=5"],
        "source.pool_size: must exceed source.dim + 1 = 11",
    ),
]
DETECTION_CASES = [
    (
        ["trainer.model=missing.pt"],
        "trainer.model: 'missing.pt' is not a file; pretrained weights are read only from a local path",
    ),
    (
        ["trainer.model=yolo99z.yaml"],
        "trainer.model: 'yolo99z.yaml' is neither a local file nor a model YAML shipped with Ultralytics",
    ),
    (
        ["trainer.device=tpu"],
        "trainer.device: must be auto, cpu, cuda, cuda:<index> or a GPU index, got 'tpu'",
    ),
    (["trainer.epochs=0"], "trainer.epochs: must be an integer >= 1, got 0"),
    (["source.n_classes=11"], "source.n_classes: must be at most 10 (one per shape: circle, square,"),
    (["source=yolo_dataset"], "source.data: is required and has no default; set it, e.g. source.data=..."),
    (
        ["generator=pseudo_label", "generator.n=500"],
        "generator.n: asks to label 500 real images per generation but source.pool_size is 300",
    ),
    (
        ["generator=pseudo_label", "generator.conf=1.5"],
        "generator.conf: must be a confidence threshold in [0, 1)",
    ),
    (["mixing=verified", "mixing.phi=2"], "mixing.phi: must be a probability in [0, 1], got 2"),
    (
        [*GAUSSIAN, "mixing=verified"],
        "mixing: mixing=verified needs detection data, which source=gaussian does not provide;"
        " options that provide it: source=shapes, yolo_dataset",
    ),
    (
        ["trainer=gaussian_fit"],
        "trainer: trainer=gaussian_fit needs gaussian data, which source=shapes does not provide;"
        " options that provide it: source=gaussian, gmm",
    ),
    (
        ["metrics=classes"],
        "metrics.classes: needs categorical data, which source=shapes does not provide;"
        " options that provide it: source=zipf",
    ),
    (
        ["generator.fit_images=0"],
        "generator.fit_images: must be null (fit to every image) or an integer >= 1, got 0",
    ),
    (
        ["generator=sprite_vae", "generator.sprite_size=40"],
        "generator.sprite_size: is 40 pixels but the largest object in source.image_size=64 images spans 38",
    ),
    (
        ["generator=sprite_vae", "generator.latent_dim=0"],
        "generator.latent_dim: must be an integer >= 1, got 0",
    ),
    (
        [*GAUSSIAN, "metrics=images"],
        "metrics.detection: needs detection data, which source=gaussian does not provide;"
        " options that provide it: source=shapes, yolo_dataset",
    ),
    (
        ["mixing=verified", "mixing.mode=fix"],
        "mixing.mode: must be none (no check), select (keep or drop checked images) or correct",
    ),
]
CASES = [([*GAUSSIAN, *args], message) for args, message in TOY_CASES] + DETECTION_CASES


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_config_is_refused_before_work(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)  # relative paths (trainer.model=missing.pt) are read from here
    refused = refused_in_process([*args, f"hydra.run.dir={tmp_path / 'run'}"], monkeypatch, capsys)
    assert message in refused
    assert not (tmp_path / "run").exists()


def test_help_is_our_page_and_a_wrong_flag_names_the_command(app_cli):
    shown = app_cli("--help")
    assert shown.returncode == 0
    for told in ("resume=last", "+experiment=NAME", "+debug=default", "README", "collapse-sim-report"):
        assert told in shown.stdout, told
    assert "zipf_tail" in shown.stdout and "yolo_fast" in shown.stdout  # the options, from the folders
    assert "debug_metrics" not in shown.stdout and "debug_trainer" not in shown.stdout  # internal groups
    wrong = app_cli("--hepl")
    assert (
        wrong.returncode == 2
        and "python -m collapse_sim: error: unrecognized arguments: --hepl" in wrong.stderr
    )


@pytest.mark.parametrize("args, message", [CASES[0], DETECTION_CASES[-1]], ids=["toy", "detection"])
def test_bad_config_exits_2_from_the_command_line(tmp_path, args, message):
    """The same refusal as a user meets it: a fresh interpreter, exit code 2, one paragraph."""
    result = run_cli(*args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert message in one_paragraph(result)
    assert not (tmp_path / "run").exists()


def test_bad_value_in_a_sweep_stops_every_job(tmp_path, monkeypatch, capsys):
    sweep = ["-m", *GAUSSIAN, "+debug=default", "generations=2,0", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    assert "generations: must be an integer >= 1, got 0" in refused_in_process(sweep, monkeypatch, capsys)
    assert not (tmp_path / "sweep").exists()


def test_run_dir_under_a_file_is_refused(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("keep me")
    args = [*GAUSSIAN, "+debug=default", f"hydra.run.dir={blocker / 'run'}"]
    assert f"{blocker} is a file; choose another path" in refused_in_process(args, monkeypatch, capsys)
    assert blocker.read_text() == "keep me"


def test_a_busy_run_folder_is_refused_at_once_before_anything_is_built(tmp_path, monkeypatch, capsys):
    from collapse_sim import job
    from collapse_sim.runner import exclusive

    def built(*args, **kwargs):
        raise AssertionError("the job was built although its folder is busy")

    monkeypatch.setattr(job, "build", built)
    with exclusive(tmp_path):  # another process writing the folder
        message = refused_in_process([*GAUSSIAN, f"hydra.run.dir={tmp_path}"], monkeypatch, capsys)
    assert f"hydra.run.dir: another collapse_sim process is writing {tmp_path}; wait for it" in message


def test_second_writer_of_a_run_dir_is_refused(tmp_path):
    from collapse_sim.errors import ConfigError
    from collapse_sim.runner import exclusive

    with exclusive(tmp_path):
        with pytest.raises(ConfigError, match="another collapse_sim process is writing"):
            with exclusive(tmp_path):
                pass
    with exclusive(tmp_path):  # released again
        pass
