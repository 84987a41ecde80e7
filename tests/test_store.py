import numpy as np
import pytest
import xarray as xr

from collapse_sim.errors import ConfigError
from collapse_sim.store import RunStore, open_run

ATTRS = {"config": {"generations": 3, "source": {"dim": 1}}, "name": "t"}


def results(value):
    return xr.Dataset(
        {"v": (("replicate", "class"), np.full((2, 2), value), {"units": "1", "description": "d"})},
        coords={"class": np.array(["a", "b"], dtype=object)},
    )


def test_write_complete_and_hide_incomplete(tmp_path):
    store, start = RunStore.open_or_create(tmp_path, generations=3, attrs=ATTRS)
    assert start == 0
    store.write(0, results(1.0))
    store.mark_complete(0)
    store.write(1, results(2.0))  # written but not marked: a crash before the flag
    ds = open_run(tmp_path)
    assert ds.sizes["generation"] == 1 and float(ds.v.max()) == 1.0
    assert ds.attrs["config"] == ATTRS["config"]
    assert ds.v.attrs["units"] == "1"
    raw = xr.open_zarr(tmp_path / "results.zarr")  # a plain open works too
    assert np.isnan(raw.v.isel(generation=2)).all()
    _, start = RunStore.open_or_create(tmp_path, generations=3, attrs=ATTRS)
    assert start == 1


def test_different_config_is_refused_and_nothing_changes(tmp_path):
    store, _ = RunStore.open_or_create(tmp_path, generations=3, attrs=ATTRS)
    store.write(0, results(1.0))
    store.mark_complete(0)
    before = {p: p.read_bytes() for p in (tmp_path / "results.zarr").rglob("*") if p.is_file()}
    other = {"config": {"generations": 3, "source": {"dim": 2}}}
    with pytest.raises(ConfigError, match=r"different configuration \(differs at: source.dim\)"):
        RunStore.open_or_create(tmp_path, generations=3, attrs=other)
    after = {p: p.read_bytes() for p in (tmp_path / "results.zarr").rglob("*") if p.is_file()}
    assert before == after


def test_store_without_results_is_replaced(tmp_path):
    RunStore.open_or_create(tmp_path, generations=3, attrs=ATTRS)  # e.g. generation 0 failed
    other = {"config": {"generations": 2, "source": {"dim": 2}}}
    store, start = RunStore.open_or_create(tmp_path, generations=2, attrs=other)
    assert start == 0
    store.write(0, results(1.0))
    store.mark_complete(0)
    assert open_run(tmp_path).attrs["config"] == other["config"]


def test_unreadable_store_is_reported(tmp_path):
    (tmp_path / "results.zarr").mkdir()
    with pytest.raises(ConfigError, match="not a readable collapse_sim store"):
        RunStore.open_or_create(tmp_path, generations=3, attrs=ATTRS)


def test_open_run_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results store"):
        open_run(tmp_path)


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_a_store_at_an_fsspec_url_writes_resumes_and_opens(tmp_path, scheme):
    url = (
        f"memory://collapse-sim-test/{tmp_path.name}.zarr"
        if scheme == "memory"
        else f"file://{tmp_path}/shared/a.zarr"
    )
    run_dir = tmp_path / "run"
    store, start = RunStore.open_or_create(run_dir, generations=3, attrs=ATTRS, url=url)
    assert start == 0 and not (run_dir / "results.zarr").exists()
    store.write(0, results(1.0))
    store.mark_complete(0)
    store.write(1, results(2.0))  # not marked complete
    for where in (run_dir, url):  # the run directory points to its store
        ds = open_run(where)
        assert ds.sizes["generation"] == 1 and float(ds.v.max()) == 1.0
    if scheme == "file":
        assert (tmp_path / "shared" / "a.zarr" / "zarr.json").exists()
    _, start = RunStore.open_or_create(run_dir, generations=3, attrs=ATTRS, url=url)
    assert start == 1
    with pytest.raises(ConfigError, match="already has its store at"):
        RunStore.open_or_create(run_dir, generations=3, attrs=ATTRS, url=url.replace(".zarr", "-b.zarr"))
    assert (run_dir / "store_url.txt").read_text().strip() == url  # the pointer was not moved


def test_a_generation_with_variables_the_store_lacks_stops_the_run_and_damages_nothing(tmp_path):
    """Code changed under a running run (or between its start and a resume): one paragraph, not a
    KeyError, and the store is never laid out again over the kept generations."""
    from collapse_sim.errors import RunFailure

    store, _ = RunStore.open_or_create(tmp_path, generations=3, attrs=ATTRS)
    store.write(0, results(1.0))
    store.mark_complete(0)
    grown = results(2.0).assign(w=results(2.0).v)
    with pytest.raises(RunFailure, match=r"generation 1 brings variables the store at .* \(w\): the package"):
        store.write(1, grown)
    resumed, start = RunStore.open_or_create(tmp_path, generations=3, attrs=ATTRS)
    assert start == 1
    with pytest.raises(RunFailure, match=r"\(w\)"):
        resumed.write(1, grown)
    assert float(open_run(tmp_path).v.max()) == 1.0  # generation 0 kept as it was


def test_a_batch_is_checked_generation_by_generation(tmp_path):
    from collapse_sim.errors import RunFailure

    store, _ = RunStore.open_or_create(tmp_path, generations=4, attrs=ATTRS, batched=True)
    partial = results(2.0).drop_vars("v").assign(w=("replicate", np.ones(2)))
    with pytest.raises(RunFailure, match=r"generation 1 brings variables .* \(w\)"):
        store.write_generations(0, [results(1.0), partial])
    store.write_generations(0, [results(1.0), results(2.0).drop_vars("v")])  # v missing in generation 1
    store.mark_complete(0, count=2)
    ds = open_run(tmp_path)
    assert float(ds.v.isel(generation=0).max()) == 1.0 and np.isnan(ds.v.isel(generation=1)).all()
