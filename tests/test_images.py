"""The image family: real digits and MNIST-format files, a diffusion model and a VAE, MAD's measures."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from conftest import refused_in_process, requires_fashion_mnist

import collapse_sim as cs
from collapse_sim.errors import ConfigError
from collapse_sim.metrics.image_quality import density_coverage, precision_recall
from collapse_sim.sources.images import DigitsSource, MnistFilesSource, long_tail

IMAGE_RUN = [
    "source=digits",
    "trainer=ddpm",
    "generator=image_sample",
    "metrics=image_quality",
    "+debug=default",
]


def idx_bytes(values: np.ndarray, magic: int) -> bytes:
    """An idx file of unsigned bytes: magic, one big-endian size per dimension, the values."""
    header = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in values.shape)
    return header + np.ascontiguousarray(values, dtype=np.uint8).tobytes()


def mnist_folder(folder, *, train: int = 120, test: int = 60, size: int = 8, gzipped: bool = True):
    """Four small MNIST-format files of blobs whose position tells the class (ten classes)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", train), ("t10k", test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 40, size=(n, size, size))
        for i, label in enumerate(labels):  # a bright square whose place is the label
            row, column = divmod(int(label), 4)
            images[i, 2 * row : 2 * row + 2, 2 * column : 2 * column + 2] = 255
        for kind, values, magic in (("images-idx3", images, 2051), ("labels-idx1", labels, 2049)):
            name = f"{split}-{kind}-ubyte"
            raw = idx_bytes(values, magic)
            if gzipped:
                (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (folder / name).write_bytes(raw)
    return folder


def test_mnist_files_are_read_gzipped_or_not_with_their_labels(tmp_path):
    for gzipped in (True, False):
        folder = mnist_folder(tmp_path / str(gzipped), gzipped=gzipped)
        source = MnistFilesSource(path=str(folder), test_size=50, pool_size=None)
        real = source.load(np.random.default_rng(0))
        assert len(real.train) == 120 and len(real.test) == 50 and real.train.size == (8, 8)
        assert real.train.images.max() == 1.0 and real.train.images.min() >= 0.0
        corner = real.train.images[real.train.labels == 0][:, 0:2, 0:2]  # label 0: the top-left square
        assert np.all(corner == 1.0)
        assert real.truth.names == tuple("0123456789")


def test_downsampling_averages_each_block_and_a_factor_that_does_not_divide_is_refused(tmp_path):
    folder = mnist_folder(tmp_path / "mnist", size=16)
    native = MnistFilesSource(path=str(folder), test_size=50).load(np.random.default_rng(0))
    half = MnistFilesSource(path=str(folder), test_size=50, downsample=2).load(np.random.default_rng(0))
    assert native.train.size == (16, 16) and half.train.size == (8, 8) and len(half.train) == 120
    blocks = native.train.images.reshape(120, 8, 2, 8, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(half.train.images, blocks, rtol=1e-6)  # the same images, pixel blocks averaged
    assert np.array_equal(half.train.labels, native.train.labels)
    with pytest.raises(ConfigError, match="downsample: is 3 but the images of .* are 16 x 16 pixels"):
        MnistFilesSource(path=str(folder), test_size=50, downsample=3)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (
            "magic",
            "is not an MNIST-format file of images (magic 2051, N x rows x columns bytes): its magic "
            "number is 2049 (expected 2051)",
        ),
        (
            "truncated",
            "is truncated: its header announces 120 x 8 x 8 values (7696 bytes with the header) but "
            "it holds 7000 bytes",
        ),
        ("counts", "holds 120 images but train-labels-idx1-ubyte holds 119 labels"),
        ("missing", "holds no t10k-labels-idx1-ubyte (nor t10k-labels-idx1-ubyte.gz)"),
        ("not gzip", "could not be read"),
    ],
)
def test_bad_idx_files_are_refused_naming_the_file(tmp_path, damage, expected):
    folder = mnist_folder(tmp_path / "mnist", gzipped=False)
    images = folder / "train-images-idx3-ubyte"
    if damage == "magic":
        images.write_bytes((folder / "train-labels-idx1-ubyte").read_bytes())
    elif damage == "truncated":
        images.write_bytes(images.read_bytes()[:7000])
    elif damage == "counts":
        labels = folder / "train-labels-idx1-ubyte"
        labels.write_bytes(idx_bytes(np.zeros(119), 2049))
    elif damage == "missing":
        (folder / "t10k-labels-idx1-ubyte").unlink()
    else:  # a gzip header on a file that is not gzip
        images.write_bytes(b"\x1f\x8b" + images.read_bytes()[2:])
    with pytest.raises(ConfigError) as refused:
        MnistFilesSource(path=str(folder), test_size=50)
    assert refused.value.key == "path" and expected in refused.value.message
    assert str(folder) in refused.value.message


def test_a_bad_mnist_folder_stops_the_command_before_any_work(tmp_path, monkeypatch, capsys):
    folder = mnist_folder(tmp_path / "mnist")
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 3))
    run_dir = tmp_path / "run"
    args = [*IMAGE_RUN, "source=mnist_files", f"source.path={folder}", f"hydra.run.dir={run_dir}"]
    refused = refused_in_process(args, monkeypatch, capsys)
    assert f"source.path: {folder}/t10k-images-idx3-ubyte.gz is truncated" in refused
    assert not run_dir.exists()


def test_a_class_exponent_thins_the_classes_to_a_power_law():
    labels = np.repeat(np.arange(10), 200)
    kept = np.bincount(labels[long_tail(labels, 10, 1.0)], minlength=10)
    assert kept[0] == 200 and np.allclose(kept, np.floor(200 / np.arange(1, 11) + 1e-9))
    digits = DigitsSource(class_exponent=1.0, pool_size=None)
    shares = digits.truth.class_share
    assert np.all(np.diff(shares) < 0) and shares[0] / shares[9] == pytest.approx(10, rel=0.1)
    assert DigitsSource(pool_size=None).truth.class_share.min() > 0.09  # as given: balanced


def test_digits_keep_a_fixed_test_set_apart_from_every_pool():
    source = DigitsSource(test_size=500, pool_size=300)
    a, b = source.load(np.random.default_rng(1)), source.load(np.random.default_rng(2))
    assert len(a.test) == 500 and len(a.train) == 300 and source.truth.train_size == 1297
    assert np.array_equal(a.test.images, b.test.images)  # the split does not depend on the seed
    assert not np.array_equal(a.train.images, b.train.images)  # the pool does
    flat = {im.tobytes() for im in a.test.images}
    fresh = a.draw(1297, np.random.default_rng(3))
    assert not any(im.tobytes() in flat for im in fresh.images) or len(flat) < 500  # duplicates aside
    assert sum(im.tobytes() in flat for im in fresh.images) <= 5  # the digits hold a few duplicates
    with pytest.raises(ConfigError, match="asks for 1300 real images but scikit-learn's digits gives 1297"):
        DigitsSource(test_size=500, pool_size=1300)


def clusters(rng, n: int, classes, labels: bool = False):
    """Points of ten unit Gaussians 12 apart on a circle (well separated), from the given classes."""
    angles = 2 * np.pi * np.arange(10) / 10
    centres = 20 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    drawn = rng.choice(classes, size=n)
    points = centres[drawn] + rng.normal(size=(n, 2))
    return (points, drawn) if labels else points


def test_precision_and_recall_on_sets_whose_answer_is_known():
    rng = np.random.default_rng(0)
    real, real_classes = clusters(rng, 1000, np.arange(10), labels=True)
    assert precision_recall(real, real.copy()) == (1.0, 1.0)  # identical sets: every point is inside
    # Another draw of the same distribution: near 1 (k-NN balls miss a few points at the edges).
    same = np.array([precision_recall(real, clusters(rng, 1000, np.arange(10))) for _ in range(5)])
    assert np.all(same.mean(axis=0) > 0.95)
    # Half the classes: every generated point looks real; the real points of the other half are missed.
    half = np.array([precision_recall(real, clusters(rng, 1000, np.arange(5))) for _ in range(5)])
    assert half[:, 0].mean() > 0.95
    share_of_half = np.isin(real_classes, np.arange(5)).mean()  # about 0.5
    assert half[:, 1].mean() == pytest.approx(share_of_half * same[:, 1].mean(), abs=0.04)


def test_density_and_coverage_on_sets_whose_answer_is_known():
    """Naeem et al.'s measures where they can be counted by hand: real points on a line 0, 1, ..., 19 and
    k = 1, so every real ball has radius 1 and holds its own point and its neighbours."""
    line = np.arange(20.0)[:, None]
    # A copy of the real set: each point lies in its own ball and its two neighbours' (one at the ends).
    density, coverage = density_coverage(line, line.copy(), k=1)
    assert density == pytest.approx((3 * 18 + 2 * 2) / 20) and coverage == 1.0
    # One prototype, at 0: inside the balls of 0 and 1 only; the prototype covers those two real points.
    assert density_coverage(line, np.zeros((1, 1)), k=1) == (2.0, 2 / 20)
    # The set shifted by half a step: x + 0.5 is in the balls of x and x + 1 (the last one in 19's only),
    # and every real point has a shifted point within 1.
    density, coverage = density_coverage(line, line + 0.5, k=1)
    assert density == pytest.approx((2 * 19 + 1) / 20) and coverage == 1.0
    # Shifted beyond every ball: no fidelity, no diversity.
    assert density_coverage(line, line + 100, k=1) == (0.0, 0.0)
    # In general position a copy lies in k + 1 balls on average: density (k + 1) / k.
    rng = np.random.default_rng(0)
    real = clusters(rng, 1000, np.arange(10))
    assert density_coverage(real, real.copy(), k=3)[0] == pytest.approx(4 / 3)
    # One prototype a class (the cluster centres), ten times each, against another draw of the real law:
    # precision is perfect and density no lower than the real draw's (the centres sit where the real
    # balls crowd), while coverage falls from 0.87 to 0.03 and recall to 0: only diversity sees them.
    angles = 2 * np.pi * np.arange(10) / 10
    centres = np.repeat(20 * np.stack([np.cos(angles), np.sin(angles)], axis=1), 10, axis=0)
    density, coverage = density_coverage(real, centres, k=3)
    same_density, same_coverage = density_coverage(real, clusters(rng, 1000, np.arange(10)), k=3)
    assert precision_recall(real, centres) == (1.0, 0.0)
    assert density >= same_density - 0.05 and same_coverage > 0.8 and coverage < 0.05


@pytest.mark.parametrize("trainer", ["ddpm", "vae"])
@pytest.mark.parametrize("source", ["digits", "mnist_files"])
def test_an_image_run_records_mad_s_measures_for_every_chain(tmp_path, app_cli, source, trainer):
    where = (
        [f"source.path={mnist_folder(tmp_path / 'mnist')}", "source.test_size=60"]
        if source != "digits"
        else []
    )
    run_dir = tmp_path / "run"
    # Two chains for one pair (both chains' pictures); one for the others, for the suite's time.
    chains = 2 if (source, trainer) == ("digits", "ddpm") else 1
    args = [*IMAGE_RUN, f"source={source}", *where, f"trainer={trainer}", "workers=1", f"replicates={chains}"]
    ran = app_cli(*args, f"hydra.run.dir={run_dir}")
    assert ran.returncode == 0, ran.stderr
    ds = cs.open_run(run_dir)
    names = {"precision", "recall", "fid", "kid", "class_share", "class_share_distance", "recognisability"}
    assert names <= set(ds.data_vars) and ds.sizes["generation"] == 3 and ds.sizes["replicate"] == chains
    for name in names - {"class_share"}:
        assert np.isfinite(ds[name]).all(), name
    assert ((0 <= ds.precision) & (ds.precision <= 1)).all() and (ds.fid >= 0).all()
    assert np.allclose(ds.class_share.sum("class"), 1.0) and list(ds["class"].values) == list("0123456789")
    assert float(ds.real_fraction[0, 0]) == 1.0 and float(ds.real_fraction[1, 0]) == 0.0
    # Each generation's drawn images, by class, and the classes the classifier sees, beside the report.
    assert len(list(run_dir.glob("chain_0*/generations/00[012]/crops.npz"))) == 3 * chains
    page = (run_dir / "report.html").read_text()
    assert (run_dir / "crops.png").is_file() and "Images drawn by each generation's model" in page
    assert (run_dir / "class_share.png").is_file() and "the frozen real-data classifier puts in" in page
    assert (run_dir / "image_classifier.pt").is_file()  # trained once, for both chains


def test_a_diffusion_model_is_deterministic_on_a_cpu_and_guidance_changes_its_draws():
    from collapse_sim.components import RunContext
    from collapse_sim.trainers.ddpm import DDPMTrainer

    source = DigitsSource(pool_size=200)
    real = source.load(np.random.default_rng(0))
    trainer = DDPMTrainer(iterations=20, device="cpu")
    trainer.setup(RunContext(folder=None, chain=0, real=real))
    fits = [trainer.fit(real.train, rng=np.random.default_rng(5), generation=0) for _ in range(2)]
    assert all(np.array_equal(fits[0].state[k], fits[1].state[k]) for k in fits[0].state)
    draws = [fits[0].sample(30, np.random.default_rng(1), steps=5, guidance=w) for w in (0.0, 0.0, 2.0)]
    assert np.array_equal(draws[0][0], draws[1][0]) and np.array_equal(draws[0][1], draws[2][1])
    assert not np.allclose(draws[0][0], draws[2][0])
    assert draws[0][0].shape == (30, 8, 8) and 0 <= draws[0][0].min() and draws[0][0].max() <= 1


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["trainer=vae", "generator.guidance=2"],
            "generator=image_sample needs sampling option guidance, "
            "which trainer=vae does not provide; options that provide it: trainer=ddpm, diffusers_unet",
        ),
        (
            ["generator.temperature=0.5"],
            "needs sampling option temperature, which trainer=ddpm does not provide; options that "
            "provide it: trainer=categorical_fit, gaussian_fit, gmm_fit, hf_causal_lm, kde_fit, ngram, "
            "tiny_gpt, vae",
        ),
        (["source.class_exponent=-1"], "source.class_exponent: must be a number >= 0"),
        (["trainer=vae", "warm_start=true"], "warm_start: is true but trainer=vae trains a fresh VAE each"),
        (["source.test_size=1797"], "source.test_size: must be between 1 and 1796"),
        (["trainer=ngram"], "trainer=ngram needs text data, which source=digits does not provide"),
    ],
)
def test_bad_image_settings_stop_before_any_work(tmp_path, monkeypatch, capsys, overrides, expected):
    run_dir = tmp_path / "run"
    refused = refused_in_process([*IMAGE_RUN, *overrides, f"hydra.run.dir={run_dir}"], monkeypatch, capsys)
    assert expected in refused
    assert not run_dir.exists()


class Replaying:
    """A 'model' that draws given images (its training set, or real test images) with their labels."""

    def __init__(self, images, labels) -> None:
        self.images, self.labels = images, labels

    def sample(self, n, rng, **options):
        chosen = rng.choice(len(self.images), size=n, replace=n > len(self.images))
        return self.images[chosen], self.labels[chosen]


def test_copies_of_the_training_data_count_as_memorised_and_real_images_as_precise(tmp_path):
    from collapse_sim.components import RunContext
    from collapse_sim.metrics.image_quality import ImageQuality

    real = DigitsSource(pool_size=400).load(np.random.default_rng(0))
    metric = ImageQuality(classifier_steps=300, samples=300)
    metric.setup(RunContext(tmp_path, 0, real=real, run_dir=tmp_path))
    copying = metric.measure(Replaying(real.train.images, real.train.labels), real.train, real)
    assert float(copying.memorised_share) == 1.0  # every drawn image is one it was trained on
    assert np.isnan(float(copying.precision_not_copied))  # nothing made rather than recalled to score
    unseen = metric.measure(Replaying(real.test.images, real.test.labels), real.train, real)
    # Real test images are copies of the pool only as often as the threshold's quantile says (5 %).
    assert float(unseen.memorised_share) <= 0.06
    assert float(unseen.precision) > 0.9 and float(unseen.recall) > 0.5  # real images: a high bar
    # Fresh real images are like the real test set: density near 1, most real balls covered; and the
    # precision of the few that happen to be near the pool barely differs from the rest's.
    assert 0.8 < float(unseen.density) < 1.3 and float(unseen.coverage) > 0.8
    assert abs(float(unseen.precision_not_copied) - float(unseen.precision)) < 0.02
    # Half copies of the training images, half real test images: the copies leave the precision of the
    # rest, which is the unseen images' own.
    mixed = np.concatenate([real.train.images[:150], real.test.images[:150]])
    labels = np.concatenate([real.train.labels[:150], real.test.labels[:150]])
    half = metric.measure(Replaying(mixed, labels), real.train, real)  # draws all 300, once each
    fewer = ImageQuality(classifier_steps=300, samples=150)  # the same classifier, from the run folder
    fewer.setup(RunContext(tmp_path, 0, real=real, run_dir=tmp_path))
    alone = fewer.measure(Replaying(real.test.images[:150], real.test.labels[:150]), real.train, real)
    assert 0.5 <= float(half.memorised_share) < 0.55
    assert float(half.precision_not_copied) == pytest.approx(float(alone.precision_not_copied), abs=0.02)
    assert float(unseen.recognisability) > 0.85 and float(unseen.class_share_distance) < 0.1


def test_an_image_run_gives_the_same_values_every_time():
    """What a resumed run relies on: every draw (fit, samples, the metric's own) follows from the seed."""
    from conftest import assert_same_results

    args = [*IMAGE_RUN, "replicates=1", "generations=2", "workers=1"]
    assert_same_results(cs.run(args), cs.run(args))


@requires_fashion_mnist
def test_mad_on_fashion_mnist_runs_at_14_by_14_and_a_missing_folder_says_how_to_install_it(
    tmp_path, app_cli, monkeypatch, capsys
):
    run_dir = tmp_path / "run"
    small = ["+debug=default", "replicates=1", "plots=false"]
    ran = app_cli("+experiment=mad_fashion", *small, f"hydra.run.dir={run_dir}")
    assert ran.returncode == 0, ran.stderr
    ds = cs.open_run(run_dir)
    assert ds.sizes["generation"] == 3 and np.isfinite(ds.precision).all() and np.isfinite(ds.fid).all()
    crops = np.load(next(run_dir.glob("chain_00/generations/000/crops.npz")))
    assert crops[crops.files[0]].shape[1:3] == (14, 14)  # Fashion-MNIST averaged 2 x 2
    missing = tmp_path / "fashion-mnist"
    refused = refused_in_process(["+experiment=mad_fashion", f"source.path={missing}"], monkeypatch, capsys)
    assert f"source.path: {missing} is not a folder" in refused
    assert "apt install dataset-fashion-mnist puts them in /usr/share/datasets/fashion-mnist" in refused
