"""The rule engine: each municipality's grant rules as dated data, with exact, explained payouts.

Public interface (stable; documented in ``docs/rules.md``):

* :func:`evaluate` ``(tenant_id, period_code, association_id=None) -> Evaluation``
* :func:`expected_grant` ``(tenant_id, association_id, period_code) -> dict`` (JSON-ready)
* :func:`register_exclusion` for participations decided outside the rules (clash detection)
* :func:`register_plugin` / entry-point group ``apn.rules`` for rules data cannot express
* :func:`parse_document`, :func:`install_ruleset`, :func:`load_preset`, :func:`preset_names`

Importing this package registers the tenant-creation hook that installs a preset.
"""

from __future__ import annotations

from apn.rules.engine import Evaluation, evaluate, get_period, round_ore, rule_set_for
from apn.rules.registry import (
    isolated_registries,
    plugin_names,
    register_exclusion,
    register_plugin,
    reset_exclusions,
    reset_plugins,
)
from apn.rules.rulesets import install_ruleset, load_preset, preset_names
from apn.rules.schema import RuleDocumentError, decode_text, parse_document


def expected_grant(tenant_id: int, association_id: int, period_code: str) -> dict:
    """The association's expected (or, for a closed period, final) grant for a period, ready for JSON.

    Keys: tenant, period, estimate, rule_set {id, version, name}, association {id, organisationsnummer,
    name}, total_ore, sessions_valid, sessions_rejected, participations_counted, leader_participations_paid,
    qualified, lines [{clause, kind, description_sv, description_en, units, rate_ore, amount_ore}],
    notes [{code, sv, en}], rejected_sessions [{session_id, date, start_time, duration_minutes, reasons
    [{code, sv, en}], …}], not_counted [{code, sv, en, count}].
    """
    ev = evaluate(tenant_id, period_code, association_id)
    res = ev.associations[int(association_id)]
    return {
        "tenant": ev.tenant_slug,
        "period": ev.period_code,
        "estimate": ev.estimate,
        "rule_set": {"id": ev.rule_set_id, "version": ev.rule_set_version, "name": ev.rule_set_name},
        "association": {"id": res.association_id, "organisationsnummer": res.organisationsnummer,
                        "name": res.name},
        "total_ore": res.total_ore,
        "sessions_valid": res.sessions_valid,
        "sessions_rejected": res.sessions_rejected,
        "participations_counted": res.participations_counted,
        "leader_participations_paid": res.leader_participations_paid,
        "qualified": res.qualified,
        "lines": [ln.as_dict() for ln in res.lines],
        "notes": [r.as_dict() for r in res.notes],
        "rejected_sessions": [s.as_dict() for s in ev.sessions(res.association_id, rejected_only=True)],
        "not_counted": ev.not_counted_summary(res.association_id),
    }


__all__ = [
    "Evaluation",
    "RuleDocumentError",
    "decode_text",
    "evaluate",
    "expected_grant",
    "get_period",
    "install_ruleset",
    "isolated_registries",
    "load_preset",
    "parse_document",
    "plugin_names",
    "preset_names",
    "register_exclusion",
    "register_plugin",
    "reset_exclusions",
    "reset_plugins",
    "round_ore",
    "rule_set_for",
]
