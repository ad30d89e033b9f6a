"""Clash detection: impossible and double-reported attendance, flagged at intake for every channel.

:func:`install` (called by the app factory) registers the check with the one intake and, when the rule
engine offers the plug point, the policy's exclusions with the rule engine. See docs/clashes.md.
"""

from __future__ import annotations

from apn.clash.policy import DEFAULT_POLICY, excluded_participations, get_policy, reporter_preview, set_policy
from apn.clash.service import (
    check_after_persist,
    flags_for_officer,
    flags_for_sessions,
    period_range,
    rescan,
    resolve,
)


def install() -> bool:
    """Hook the clash check into the intake; returns whether the rule engine's exclusion plug was found."""
    from apn.intake import register_after_persist

    register_after_persist(check_after_persist)
    try:
        from apn.rules import register_exclusion  # type: ignore[attr-defined]
    except ImportError:
        return False
    register_exclusion(excluded_participations)
    return True


__all__ = [
    "DEFAULT_POLICY",
    "check_after_persist",
    "excluded_participations",
    "flags_for_officer",
    "flags_for_sessions",
    "get_policy",
    "install",
    "period_range",
    "reporter_preview",
    "rescan",
    "resolve",
    "set_policy",
]
