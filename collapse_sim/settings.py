"""A component's settings: the class a ``_target_`` names, the settings its constructor accepts, their types.

The constructor is read as Python reads it: a subclass whose ``__init__``
passes ``**kwargs`` on accepts what its parents accept.
"""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from collections.abc import Sequence
from typing import Any

from collapse_sim.errors import ConfigError, did_you_mean


def import_target(key: str, target: Any) -> type:
    """The class a ``_target_`` names, or a ConfigError saying why it cannot be used."""
    if not isinstance(target, str) or "." not in target:
        raise ConfigError(key, f"must be a dotted import path such as 'package.module.Class', got {target!r}")
    module_name, _, attr = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as error:
        raise ConfigError(key, f"cannot import {target!r} ({error})") from None


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, Sequence, typing.Sequence) or hint in (list, tuple):
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return isinstance(value, list | tuple) and all(_matches(v, inner) for v in value)
    return True


def accepted_settings(cls: type) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    """The settings a class's constructor accepts, following ``**kwargs`` up to the parents it passes them to.

    Returns the parameters, their type hints, and whether any setting at all is
    accepted (a ``**kwargs`` that reaches no parent's constructor takes anything).
    """
    params: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    passes_on = False  # the last constructor read takes **kwargs
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:  # no constructor at all takes nothing; **kwargs that end here take anything
            return params, hints, passes_on
        signature = inspect.signature(init).parameters
        try:
            found = typing.get_type_hints(init)
        except Exception:  # a user's class may annotate with names we cannot resolve; skip type checks
            found = {}
        for name, param in signature.items():
            if name != "self" and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                params.setdefault(name, param)
                if name in found:
                    hints.setdefault(name, found[name])
        passes_on = any(param.kind == param.VAR_KEYWORD for param in signature.values())
        if not passes_on:
            return params, hints, False
    return params, hints, passes_on


def check_component(key: str, node: dict, role: type) -> type:
    """Check a component node's ``_target_`` (a subclass of ``role``, the group's base class in
    ``collapse_sim.components``) and that every setting is one it accepts, typed right."""
    if not isinstance(node, dict) or "_target_" not in node:
        raise ConfigError(key, f"must be a component with a _target_, got {node!r}")
    cls = import_target(f"{key}._target_", node["_target_"])
    if not (isinstance(cls, type) and issubclass(cls, role)):
        raise ConfigError(
            f"{key}._target_",
            f"{node['_target_']} is not a {role.__name__.lower()}: its class must subclass "
            f"collapse_sim.components.{role.__name__}, which holds the defaults of every optional "
            "declaration and hook",
        )
    params, hints, open_ended = accepted_settings(cls)
    for name, value in node.items():
        if name.startswith("_"):
            continue
        if name not in params and not open_ended:
            valid = ", ".join(params) or "(none)"
            raise ConfigError(
                f"{key}.{name}",
                f"is not a setting of {node['_target_']}; valid settings: {valid}"
                + did_you_mean(name, params),
            )
        if not _matches(value, hints.get(name, Any)):
            raise ConfigError(
                f"{key}.{name}",
                f"must be {_describe(hints[name])}, got {value!r} ({type(value).__name__})",
            )
    # Only the class's own required settings: a subclass may fill in its parents' itself.
    own = inspect.signature(cls.__init__).parameters
    missing = [
        p
        for p, param in own.items()
        if p != "self"
        and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
        and param.default is param.empty
        and p not in node
    ]
    if missing:
        raise ConfigError(f"{key}.{missing[0]}", f"is required by {node['_target_']} and not set")
    return cls
