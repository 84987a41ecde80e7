"""Optional declarations and hooks have their defaults in one place: the role base classes.

No other module asks a component whether it has one (``getattr`` with a
default, ``hasattr``), and nothing checks a component against a Protocol.
"""

from __future__ import annotations

import ast
import inspect

import pytest
from conftest import ROOT, build_job, requires_gensim
from test_text import needs_text

from collapse_sim import components
from collapse_sim.errors import ConfigError

PACKAGE = ROOT / "collapse_sim"


def declared_names() -> set[str]:
    """Every attribute and method a role base class gives a default for."""
    names: set[str] = set()
    for role in [components.Component, *components.ROLES.values()]:
        names |= {n for n in vars(role) if not n.startswith("__")} | set(getattr(role, "__annotations__", {}))
    return names


def probes(tree: ast.AST, names: set[str]) -> list[str]:
    """``getattr(x, "name", default)``, ``hasattr(x, "name")`` and ``isinstance(x, <Protocol>)`` calls."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        args = node.args
        literal = len(args) > 1 and isinstance(args[1], ast.Constant) and args[1].value in names
        if node.func.id == "getattr" and len(args) == 3 and literal:
            found.append(f"line {node.lineno}: getattr(..., {args[1].value!r}, default)")
        if node.func.id == "hasattr" and literal:
            found.append(f"line {node.lineno}: hasattr(..., {args[1].value!r})")
        if node.func.id == "isinstance" and len(args) == 2 and ast.unparse(args[1]) in PROTOCOLS:
            found.append(f"line {node.lineno}: isinstance(..., {ast.unparse(args[1])})")
    return found


def _protocols() -> set[str]:
    """Names of the Protocol classes the package defines."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(ast.unparse(b) == "Protocol" for b in node.bases):
                found.add(node.name)
    return found


PROTOCOLS = _protocols()


def test_the_base_classes_declare_every_optional_attribute_and_hook():
    names = declared_names()
    assert {"provides", "needs", "setup", "check", "chain_bytes", "sample_bytes", "test_size"} <= names
    assert {"replays_on_resume", "history_window", "device", "threads", "sampling_options"} <= names
    assert "expected_curves" in names


def test_no_module_but_the_base_classes_probes_a_component_for_a_declaration():
    names = declared_names()
    offences = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "components.py":
            continue
        found = probes(ast.parse(path.read_text()), names)
        if found:
            offences[str(path.relative_to(ROOT))] = found
    assert not offences, offences


def test_the_scan_finds_a_probe_when_there_is_one():
    source = "getattr(source, 'sample_bytes', 1)\nhasattr(trainer, 'setup')\nisinstance(x, SampleSet)\n"
    assert len(probes(ast.parse(source), declared_names())) == 3


def test_nothing_checks_runtime_protocols():
    for path in PACKAGE.rglob("*.py"):
        assert "runtime_checkable" not in path.read_text(), path


def test_a_class_that_is_not_its_roles_subclass_is_refused_naming_the_base(tmp_path, monkeypatch):
    (tmp_path / "plain_lab.py").write_text(
        "class PlainMixing:\n"
        "    history_window = 1\n"
        "    def mix(self, real, synthetic, history, rng):\n"
        "        return synthetic\n"
    )
    (tmp_path / "conf" / "mixing").mkdir(parents=True)
    (tmp_path / "conf" / "mixing" / "plain.yaml").write_text("_target_: plain_lab.PlainMixing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as refused:
        build_job(["+experiment=gaussian_collapse", "mixing=plain"], config_dir=tmp_path / "conf")
    assert str(refused.value) == (
        "mixing._target_: plain_lab.PlainMixing is not a mixing: its class must subclass "
        "collapse_sim.components.Mixing, which holds the defaults of every optional declaration and hook"
    )


def test_a_trainer_provides_the_sampling_options_its_model_class_honours():
    from collapse_sim.models.tiny_gpt import TinyGPTModel
    from collapse_sim.text.decoding import decode
    from collapse_sim.trainers.tiny_gpt import TinyGPTTrainer

    keyword = [n for n, p in inspect.signature(decode).parameters.items() if p.kind is p.KEYWORD_ONLY]
    assert set(TinyGPTModel.sampling_options) == set(keyword) - {"vocab_size"}
    assert components.sampling(*TinyGPTModel.sampling_options) <= TinyGPTTrainer.provides


@requires_gensim
@needs_text
def test_beam_search_with_tiny_gpt_is_accepted_as_the_experiment_header_documents():
    job = build_job(
        [
            "+experiment=vocabulary_loss",
            "generator.beams=5",
            "generator.repetition_penalty=3",
            "+debug=default",
        ]
    )
    assert job.sim.generator.options["beams"] == 5 and type(job.sim.trainer).__name__ == "TinyGPTTrainer"
