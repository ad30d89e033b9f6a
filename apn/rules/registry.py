"""Two explicit registries, both resettable in tests.

* **Plugins** (entry-point group ``apn.rules``): code for a rule that data cannot express. A plugin is a
  callable ``plugin(ctx: PluginContext, params: dict) -> list[PluginLine]`` named in a rule document under
  ``plugins``; it adds amount lines to associations. Built-in example: ``gender_balance``.
* **Exclusions**: participations decided outside the rules (clash detection) that must not count:
  ``func(conn, tenant_id, starts_on, ends_on)`` returns rows ``(session_id, person_id, reason_code,
  message_sv, message_en)``. The engine treats those attendance rows as not counting and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "apn.rules"

ExclusionRow = tuple[int, int, str, str, str]
ExclusionFunc = Callable[[Any, int, Any, Any], Iterable[ExclusionRow]]


@dataclass(frozen=True)
class PluginLine:
    """An amount a plugin adds to one association, with the words that explain it."""

    association_id: int
    clause: str
    description_sv: str
    description_en: str
    amount_ore: int
    units: int = 1


_plugins: dict[str, Callable] = {}
_builtins_loaded = False
_exclusions: list[ExclusionFunc] = []


def register_plugin(name: str, func: Callable) -> Callable:
    """Register a plugin under ``name`` (replaces an earlier one of that name)."""
    _plugins[name] = func
    return func


def _load() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    from apn.rules import plugins as builtin

    register_plugin("gender_balance", builtin.gender_balance)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            register_plugin(ep.name, ep.load())
        except Exception:  # noqa: BLE001 - a broken third-party plugin must not stop the app
            logger.exception("rule plugin %s could not be loaded", ep.name)


def get_plugin(name: str) -> Callable:
    """The plugin registered under ``name`` (KeyError if none)."""
    _load()
    return _plugins[name]


def plugin_names() -> list[str]:
    """Names of every registered plugin, sorted."""
    _load()
    return sorted(_plugins)


def reset_plugins() -> None:
    """Forget every plugin; the built-ins and entry points are loaded again on next use (tests)."""
    global _builtins_loaded
    _plugins.clear()
    _builtins_loaded = False


def register_exclusion(func: ExclusionFunc) -> ExclusionFunc:
    """Register a source of participations that must not count (idempotent)."""
    if func not in _exclusions:
        _exclusions.append(func)
    return func


def exclusion_sources() -> list[ExclusionFunc]:
    """The registered exclusion sources, in registration order."""
    return list(_exclusions)


def reset_exclusions() -> None:
    """Forget every exclusion source (tests)."""
    _exclusions.clear()


class isolated_registries:  # noqa: N801 - used like a function: ``with isolated_registries():``
    """Context manager for tests: start with no exclusions and the built-in plugins; restore afterwards."""

    def __enter__(self) -> isolated_registries:
        self._saved = (list(_exclusions), dict(_plugins), _builtins_loaded)
        reset_exclusions()
        reset_plugins()
        return self

    def __exit__(self, *exc) -> None:
        global _builtins_loaded
        _exclusions[:] = self._saved[0]
        _plugins.clear()
        _plugins.update(self._saved[1])
        _builtins_loaded = self._saved[2]
