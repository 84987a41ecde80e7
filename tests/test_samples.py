import numpy as np
import pytest

from collapse_sim.samples import REAL, Samples


def make(n=5, r=3, origin=None):
    x = np.arange(r * n, dtype=float).reshape(r, n, 1)
    return Samples.real(x=x) if origin is None else Samples.made_by(origin, x=x)


def test_provenance_survives_concat_and_take():
    real, synthetic = make(), make(origin=4)
    both = Samples.concat([real, synthetic])
    assert len(both) == 10
    assert (both.origin[:, :5] == REAL).all() and (both.origin[:, 5:] == 4).all()
    picked = both.take(np.array([[0, 9], [5, 1], [2, 3]]))
    np.testing.assert_array_equal(picked.origin, [[REAL, 4], [4, REAL], [REAL, REAL]])
    np.testing.assert_array_equal(picked["x"][1, :, 0], [both["x"][1, 5, 0], both["x"][1, 1, 0]])
    assert both.real_share() == 0.5


def test_subsample_is_without_replacement_and_independent_per_replicate():
    samples = make(n=50, r=200)
    sub = samples.subsample(20, np.random.default_rng(0))
    for r in range(200):
        values = sub["x"][r, :, 0]
        assert len(set(values)) == 20 and set(values) <= set(samples["x"][r, :, 0])
    first_choice = (sub["x"][:, 0, 0] - samples["x"][:, 0, 0]).astype(int)
    assert len(set(first_choice)) > 10  # replicates draw different subsets


def test_subsample_too_many_raises():
    with pytest.raises(ValueError, match="cannot draw 6 samples from 5"):
        make().subsample(6, np.random.default_rng(0))


def test_mismatched_fields_rejected():
    with pytest.raises(ValueError, match="leading shape"):
        Samples({"x": np.zeros((2, 3))}, np.zeros((2, 4), dtype=int))
