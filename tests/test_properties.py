"""Invariants that must hold for any input (property-based)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from collapse_sim.draws import shape_probabilities
from collapse_sim.samples import Samples

probabilities = arrays(np.float64, st.integers(2, 12), elements=st.floats(0.0, 1.0)).filter(
    lambda p: p.sum() > 1e-3
)


@settings(max_examples=200, deadline=None)
@given(
    probabilities,
    st.floats(0.05, 20.0),
    st.one_of(st.none(), st.integers(1, 12)),
    st.one_of(st.none(), st.floats(0.01, 1.0)),
)
def test_shaped_probabilities_are_a_distribution_on_the_original_support(p, temperature, top_k, top_p):
    p = (p / p.sum())[None]
    q = shape_probabilities(p, temperature=temperature, top_k=top_k, top_p=top_p)
    assert np.isclose(q.sum(), 1.0) and (q >= 0).all()
    assert not (q[p == 0] > 0).any()  # nothing impossible becomes possible
    if top_k is not None:
        assert (q > 0).sum() <= top_k
    # Truncation keeps the likeliest classes: every kept class is at least as likely as every dropped one.
    kept, dropped = p[q > 0], p[(q == 0) & (p > 0)]
    if kept.size and dropped.size:
        assert kept.min() >= dropped.max() - 1e-12


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5), st.lists(st.integers(0, 6), min_size=1, max_size=4), st.integers(0, 2**32 - 1))
def test_concat_then_subsample_keeps_provenance_with_values(replicates, sizes, seed):
    parts = [Samples.made_by(g, x=np.full((replicates, n, 1), float(g))) for g, n in enumerate(sizes)]
    pool = Samples.concat(parts)
    assert len(pool) == sum(sizes)
    k = len(pool) // 2
    sub = pool.subsample(k, np.random.default_rng(seed))
    # Each sample's value is the generation that made it: provenance travels with the data.
    np.testing.assert_array_equal(sub["x"][..., 0], sub.origin)
