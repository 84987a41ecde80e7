"""The summary names the rarest quarter of classes and what happened to them, as the variables declare
(the detection metrics' declarations, written out here)."""

from __future__ import annotations

import ast
import re

import numpy as np
import xarray as xr
from conftest import ROOT

from collapse_sim.reporting.classes import rare_class_lines, rarest_quarter
from collapse_sim.variables import Rarest, variable

SHARES = Rarest("sum", "rare_share", "share of training labels (together)", "{:.2%}")
AP = Rarest("mean", "rare_ap50_95", "mean AP50-95 on the real test set")


def _results() -> xr.Dataset:
    share = np.array(
        [[0.5, 0.25, 0.1, 0.06, 0.04, 0.03, 0.012, 0.008], [0.6, 0.3, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0]]
    )
    ap = np.tile(np.linspace(0.6, 0.2, 8), (2, 1))
    ap[1, 6:] = 0.0
    names = [f"c{i}" for i in range(8)]
    dims = ("generation", "class")
    return xr.Dataset(
        {
            "class_frequency": variable(
                dims, share, units="1", description="", rarest=SHARES, ranks_classes=True
            ),
            "ap50_95": variable(dims, ap, units="1", description="", rarest=AP),
        },
        coords={"generation": [0, 1], "class": names},
    )


def test_rarest_quarter_is_read_from_generation_zero():
    ds = _results()
    assert rarest_quarter(ds) == ["c7", "c6"]
    assert rarest_quarter(ds.isel({"class": slice(0, 3)})) == ["c2"]  # at least one class
    assert rarest_quarter(ds.drop_vars("class_frequency")) == []  # nothing ranks the classes


def test_summary_lines_give_total_share_and_mean_ap():
    share_line, ap_line = rare_class_lines(_results())
    assert share_line == "rarest quarter (c7, c6): share of training labels (together) 2.00% -> 0.00% (-100%)"
    assert ap_line.startswith("rarest quarter (c7, c6): mean AP50-95 on the real test set 0.229 -> 0.000")


def _family_variables() -> set[str]:
    """Every variable a family's metric declares: the names handed to ``variable`` under
    collapse_sim/metrics (``{"name": variable(...)}`` or ``ds["name"] = variable(...)``), and the series
    they declare (``Rarest``); the bookkeeping every run records is the loop's, not a family's."""
    names: set[str] = set()
    for path in (ROOT / "collapse_sim" / "metrics").glob("*.py"):
        if path.stem == "bookkeeping":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            calls = lambda v: isinstance(v, ast.Call) and getattr(v.func, "id", "") == "variable"  # noqa: E731
            if isinstance(node, ast.Dict):
                names |= {k.value for k, v in zip(node.keys, node.values, strict=True) if calls(v) and k}
            elif isinstance(node, ast.Assign) and calls(node.value):
                names |= {t.slice.value for t in node.targets if isinstance(t, ast.Subscript)}
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Rarest":
                names.add(node.args[1].value)
    return names


def test_no_family_s_variable_is_named_in_reporting():
    """The reports draw declarations: no module of reporting/ nor its templates names a family's variable."""
    names = _family_variables()
    assert {"class_frequency", "ap50_95", "gen0_histogram", "text_sample", "rare_share"} <= names
    found = []
    for path in (ROOT / "collapse_sim" / "reporting").rglob("*"):
        if path.suffix == ".py":
            strings = {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)}
            found += [f"{path.name}: {name}" for name in names if name in strings]
        elif path.suffix == ".j2":
            found += [f"{path.name}: {name}" for name in names if re.search(rf"\b{name}\b", path.read_text())]
    assert found == []
