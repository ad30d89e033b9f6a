"""The marshmallow schema of a rule document, and parsing with errors named by their path.

:func:`parse_document` returns a :class:`~apn.rules.vocabulary.RuleDocument` or raises
:class:`RuleDocumentError` listing every error as ``(path, message)``, e.g. ``("rates[2].age.max",
"must be ≥ min")``. Amounts are written in SEK (``7.50`` or ``"7.50"``) and held in öre.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validates_schema
from marshmallow.validate import Length, OneOf
from marshmallow.validate import Range as RangeV

from apn.rules import vocabulary as v


class RuleDocumentError(ValueError):
    """A rule document is invalid; ``errors`` is a sorted list of ``(path, message)``."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{p}: {m}" for p, m in errors))


class Money(fields.Field):
    """An amount in SEK with at most two decimals (number or string), loaded as öre (int, ≥ 0)."""

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValidationError("must be an amount in SEK, e.g. 7.50")
        try:
            amount = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation as exc:
            raise ValidationError("must be an amount in SEK, e.g. 7.50") from exc
        if not amount.is_finite() or amount < 0:
            raise ValidationError("must be a non-negative amount")
        ore = amount * 100
        if ore != ore.to_integral_value():
            raise ValidationError("at most two decimals (whole öre)")
        return int(ore)


class Percent(fields.Field):
    """A percentage 0–100 (number or string), loaded as Decimal."""

    def _deserialize(self, value, attr, data, **kwargs) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValidationError("must be a percentage, e.g. 60")
        try:
            p = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValidationError("must be a percentage, e.g. 60") from exc
        if not p.is_finite() or not 0 <= p <= 100:
            raise ValidationError("must be between 0 and 100")
        return p


class HHMM(fields.Field):
    """A time of day ``HH:MM`` (``24:00`` allowed as an end), loaded as minutes after midnight."""

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
            raise ValidationError("must be a time HH:MM")
        try:
            h, m = int(value[:2]), int(value[3:])
        except ValueError as exc:
            raise ValidationError("must be a time HH:MM") from exc
        if not (0 <= m < 60 and (0 <= h < 24 or (h == 24 and m == 0))):
            raise ValidationError("must be a time between 00:00 and 24:00")
        return h * 60 + m


class _Base(Schema):
    """Unknown fields are errors (a typo must not silently change the rules)."""


class RangeSchema(_Base):
    min = fields.Integer(load_default=None, allow_none=True, validate=RangeV(min=0, max=200))
    max = fields.Integer(load_default=None, allow_none=True, validate=RangeV(min=0, max=200))

    @validates_schema
    def _order(self, data, **kwargs) -> None:
        if data.get("min") is not None and data.get("max") is not None and data["max"] < data["min"]:
            raise ValidationError("must be ≥ min", "max")

    @post_load
    def _make(self, data, **kwargs) -> v.IntRange:
        return v.IntRange(data.get("min"), data.get("max"))


def _str_list(choices) -> fields.List:
    return fields.List(fields.String(validate=OneOf(choices)), validate=Length(min=1))


class ConditionFields(_Base):
    """The condition vocabulary; eligibility bands use it as an object, rates and caps inline."""

    age = fields.Nested(RangeSchema, load_default=None)
    sex = _str_list(tuple(v.SEX_CODES))
    disability = fields.Boolean(load_default=None)
    disability_association = fields.Boolean(load_default=None)
    role = _str_list(v.ROLES)
    session_types = _str_list(tuple(v.SESSION_TYPE_CODES))
    week_rank = fields.Nested(RangeSchema, load_default=None)

    @validates_schema
    def _rank(self, data, **kwargs) -> None:
        rank = data.get("week_rank")
        if rank is not None and (rank.min or 0) < 1:
            raise ValidationError("the week's first activity is number 1: give min ≥ 1", "week_rank")


CONDITION_KEYS = ("age", "sex", "disability", "disability_association", "role", "session_types", "week_rank")


def condition_from(data: dict) -> v.Condition:
    """The :class:`~apn.rules.vocabulary.Condition` held by the condition fields of ``data``."""
    tup = {k: tuple(data[k]) for k in ("sex", "role", "session_types") if data.get(k) is not None}
    return v.Condition(age=data.get("age"), disability=data.get("disability"),
                       disability_association=data.get("disability_association"),
                       week_rank=data.get("week_rank"), **tup)


class ConditionSchema(ConditionFields):
    @post_load
    def _make(self, data, **kwargs) -> v.Condition:
        return condition_from(data)


class ParticipantsSchema(_Base):
    age_basis = fields.String(load_default="year", validate=OneOf(v.AGE_BASES))
    eligible = fields.List(fields.Nested(ConditionSchema), load_default=list)

    @validates_schema
    def _fields(self, data, **kwargs) -> None:
        for i, c in enumerate(data.get("eligible") or []):
            if c.role is not None or c.week_rank is not None or c.session_types is not None:
                raise ValidationError({i: ["eligibility bands take age, sex, disability and "
                                           "disability_association only"]}, "eligible")

    @post_load
    def _make(self, data, **kwargs) -> v.ParticipantRules:
        return v.ParticipantRules(age_basis=data["age_basis"], eligible=tuple(data["eligible"]))


class LeadersSchema(_Base):
    age_basis = fields.String(load_default="year", validate=OneOf(v.AGE_BASES))
    roles = fields.List(fields.String(validate=OneOf(("leader", "temporary_leader"))),
                        load_default=lambda: ["leader", "temporary_leader"], validate=Length(min=1))
    min_age = fields.Integer(load_default=None, allow_none=True, validate=RangeV(min=0, max=200))
    max_age = fields.Integer(load_default=None, allow_none=True, validate=RangeV(min=0, max=200))

    @validates_schema
    def _order(self, data, **kwargs) -> None:
        lo, hi = data.get("min_age"), data.get("max_age")
        if lo is not None and hi is not None and hi < lo:
            raise ValidationError("must be ≥ min_age", "max_age")

    @post_load
    def _make(self, data, **kwargs) -> v.LeaderRules:
        return v.LeaderRules(age_basis=data["age_basis"], roles=tuple(data["roles"]),
                             min_age=data.get("min_age"), max_age=data.get("max_age"))


class WindowSchema(_Base):
    weekdays = fields.List(fields.Integer(validate=RangeV(min=1, max=7)), required=True, validate=Length(min=1))
    start = fields.Raw(required=True, data_key="from")
    end = fields.Raw(required=True, data_key="to")
    label_sv = fields.String(load_default="undantagen tid")
    label_en = fields.String(load_default="excluded hours")

    @validates_schema
    def _times(self, data, **kwargs) -> None:
        errors = {}
        parsed = {}
        for key, name in (("start", "from"), ("end", "to")):
            try:
                parsed[key] = HHMM()._deserialize(data.get(key), key, data)
            except ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            raise ValidationError(errors)
        if parsed["end"] <= parsed["start"]:
            raise ValidationError("must be after from", "to")

    @post_load
    def _make(self, data, **kwargs) -> v.TimeWindow:
        start = HHMM()._deserialize(data["start"], "from", data)
        end = HHMM()._deserialize(data["end"], "to", data)
        return v.TimeWindow(tuple(sorted(set(data["weekdays"]))), start, end, data["label_sv"], data["label_en"])


_count = {"load_default": None, "allow_none": True, "validate": RangeV(min=0)}


class SessionSchema(_Base):
    min_duration_minutes = fields.Integer(load_default=0, validate=RangeV(min=0, max=24 * 60))
    min_participants = fields.Integer(load_default=0, validate=RangeV(min=0))
    min_participants_all_disabled = fields.Integer(**_count)
    min_leaders = fields.Integer(load_default=0, validate=RangeV(min=0))
    max_counted_per_leader = fields.Integer(load_default=None, allow_none=True, validate=RangeV(min=1))
    max_counted_per_session = fields.Integer(load_default=None, allow_none=True, validate=RangeV(min=1))
    excluded_types = _str_list(tuple(v.SESSION_TYPE_CODES))
    excluded_windows = fields.List(fields.Nested(WindowSchema), load_default=list)

    @post_load
    def _make(self, data, **kwargs) -> v.SessionRules:
        return v.SessionRules(
            min_duration_minutes=data["min_duration_minutes"], min_participants=data["min_participants"],
            min_participants_all_disabled=data.get("min_participants_all_disabled"),
            min_leaders=data["min_leaders"], max_counted_per_leader=data.get("max_counted_per_leader"),
            max_counted_per_session=data.get("max_counted_per_session"),
            excluded_types=tuple(data.get("excluded_types") or ()),
            excluded_windows=tuple(data["excluded_windows"]))


class CapSchema(ConditionFields):
    clause = fields.String(load_default=None, validate=Length(min=1, max=60))
    per = fields.String(required=True, validate=OneOf(v.CAP_WINDOWS))
    max = fields.Integer(required=True, validate=RangeV(min=0))

    @validates_schema
    def _when(self, data, **kwargs) -> None:
        for key in ("role", "week_rank"):
            if data.get(key) is not None:
                raise ValidationError("a cap applies to participations; it takes no " + key, key)


class RateSchema(ConditionFields):
    clause = fields.String(load_default=None, validate=Length(min=1, max=60))
    unit = fields.String(required=True, validate=OneOf(v.UNITS))
    amount = Money(load_default=None)
    pot_share = Percent(load_default=None)
    max_units_per_session = fields.Integer(load_default=None, allow_none=True, validate=RangeV(min=1))
    description_sv = fields.String(load_default=None)
    description_en = fields.String(load_default=None)

    @validates_schema
    def _consistent(self, data, **kwargs) -> None:
        if (data.get("amount") is None) == (data.get("pot_share") is None):
            raise ValidationError("give either amount or pot_share", "amount")
        unit = data.get("unit")
        if data.get("max_units_per_session") is not None and unit != "extra_leader":
            raise ValidationError("only for unit extra_leader", "max_units_per_session")
        if unit in ("session", "extra_leader"):
            for key in ("age", "sex", "disability", "role", "week_rank"):
                if data.get(key) is not None:
                    raise ValidationError(f"a {unit} rate takes disability_association and session_types "
                                          "only", key)
        if unit == "leader_participation" and data.get("week_rank") is not None:
            raise ValidationError("week_rank applies to participations only", "week_rank")
        if unit == "participation" and data.get("role") is not None and set(data["role"]) != {"participant"}:
            raise ValidationError("a participation is always role participant", "role")


class QualificationSchema(_Base):
    min_participants = fields.Integer(load_default=0, validate=RangeV(min=0))
    min_sessions = fields.Integer(load_default=0, validate=RangeV(min=0))

    @post_load
    def _make(self, data, **kwargs) -> v.Qualification:
        return v.Qualification(**data)


class AssociationSchema(_Base):
    base_amount = Money(load_default=0)
    qualification = fields.Nested(QualificationSchema, load_default=None)
    qualification_disability_association = fields.Nested(QualificationSchema, load_default=None)

    @post_load
    def _make(self, data, **kwargs) -> v.AssociationRules:
        return v.AssociationRules(base_amount_ore=data["base_amount"],
                                  qualification=data.get("qualification") or v.Qualification(),
                                  qualification_disability_association=data.get(
                                      "qualification_disability_association"))


class ReductionSchema(_Base):
    days_late = fields.Integer(required=True, validate=RangeV(min=1))
    percent = fields.Integer(required=True, validate=RangeV(min=0, max=100))


class LateSchema(_Base):
    reductions = fields.List(fields.Nested(ReductionSchema), load_default=list)
    cutoff_days = fields.Integer(load_default=None, allow_none=True, validate=RangeV(min=1))

    @validates_schema
    def _order(self, data, **kwargs) -> None:
        days = [r["days_late"] for r in data.get("reductions") or []]
        for i in range(1, len(days)):
            if days[i] <= days[i - 1]:
                raise ValidationError({i: {"days_late": ["must be greater than the previous step's"]}},
                                      "reductions")
        cut = data.get("cutoff_days")
        if cut is not None and days and cut <= days[-1]:
            raise ValidationError("must be greater than the last reduction's days_late", "cutoff_days")

    @post_load
    def _make(self, data, **kwargs) -> v.LateRules:
        return v.LateRules(tuple(v.Reduction(**r) for r in data["reductions"]), data.get("cutoff_days"))


class PotSchema(_Base):
    amount = Money(required=True)
    by_period = fields.Dict(keys=fields.String(validate=Length(min=1, max=20)), values=Money(), load_default=dict)

    @post_load
    def _make(self, data, **kwargs) -> v.Pot:
        return v.Pot(data["amount"], dict(data["by_period"]))


class PluginSchema(_Base):
    name = fields.String(required=True, validate=Length(min=1, max=60))
    params = fields.Dict(keys=fields.String(), load_default=dict)

    @validates_schema
    def _known(self, data, **kwargs) -> None:
        from apn.rules.registry import plugin_names

        if data.get("name") and data["name"] not in plugin_names():
            raise ValidationError(f"unknown plugin; known: {', '.join(plugin_names()) or 'none'}", "name")


class RuleDocumentSchema(_Base):
    """The whole document."""

    name = fields.String(required=True, validate=Length(min=1, max=120))
    description = fields.String(load_default=None)
    valid_from = fields.Date(load_default=None)
    rounding = fields.String(load_default="floor", validate=OneOf(v.ROUNDING))
    participants = fields.Nested(ParticipantsSchema, required=True)
    leaders = fields.Nested(LeadersSchema, load_default=None)
    session = fields.Nested(SessionSchema, load_default=None)
    caps = fields.List(fields.Nested(CapSchema), load_default=list)
    rates = fields.List(fields.Nested(RateSchema), load_default=list)
    association = fields.Nested(AssociationSchema, load_default=None)
    late = fields.Nested(LateSchema, load_default=None)
    pot = fields.Nested(PotSchema, load_default=None)
    plugins = fields.List(fields.Nested(PluginSchema), load_default=list)

    @validates_schema
    def _whole(self, data, **kwargs) -> None:
        rates = data.get("rates") or []
        errors: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for i, r in enumerate(rates):
            clause = r.get("clause") or f"rates[{i}]"
            if clause in seen:
                errors.setdefault("rates", {})[i] = {"clause": [f"the same clause as rates[{seen[clause]}]"]}
            seen[clause] = i
        shares = [(i, r["pot_share"]) for i, r in enumerate(rates) if r.get("pot_share") is not None]
        if shares and data.get("pot") is None:
            errors.setdefault("rates", {}).setdefault(shares[0][0], {})["pot_share"] = [
                "a pot_share needs a pot in the document"]
        if sum(s for _, s in shares) > 100:
            errors["pot"] = ["the rates' pot_share add up to more than 100"]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _make(self, data, **kwargs) -> v.RuleDocument:
        caps = tuple(v.Cap(clause=c.get("clause") or f"caps[{i}]", per=c["per"], max=c["max"],
                           when=condition_from(c)) for i, c in enumerate(data["caps"]))
        rates = tuple(v.Rate(clause=r.get("clause") or f"rates[{i}]", unit=r["unit"], amount_ore=r.get("amount"),
                             pot_share=r.get("pot_share"), when=condition_from(r),
                             max_units_per_session=r.get("max_units_per_session"),
                             description_sv=r.get("description_sv"), description_en=r.get("description_en"))
                      for i, r in enumerate(data["rates"]))
        plugins = tuple(v.PluginUse(p["name"], dict(p["params"])) for p in data["plugins"])
        return v.RuleDocument(
            name=data["name"], description=data.get("description"), valid_from=data.get("valid_from"),
            rounding=data["rounding"], participants=data["participants"],
            leaders=data.get("leaders") or v.LeaderRules(), session=data.get("session") or v.SessionRules(),
            caps=caps, rates=rates, association=data.get("association") or v.AssociationRules(),
            late=data.get("late") or v.LateRules(), pot=data.get("pot"), plugins=plugins)


def flatten_errors(messages: Any, path: str = "") -> list[tuple[str, str]]:
    """Turn marshmallow's nested messages into ``(path, message)`` pairs, e.g. ``rates[2].age.max``."""
    out: list[tuple[str, str]] = []
    if isinstance(messages, dict):
        for key, sub in messages.items():
            if key == "_schema":
                sub_path = path
            elif isinstance(key, int):
                sub_path = f"{path}[{key}]"
            else:
                sub_path = f"{path}.{key}" if path else str(key)
            out.extend(flatten_errors(sub, sub_path))
    elif isinstance(messages, list | tuple):
        for m in messages:
            out.extend(flatten_errors(m, path))
    else:
        text = str(messages)
        if text == "Unknown field.":
            text = "unknown field (check the spelling)"
        elif text == "Missing data for required field.":
            text = "required"
        out.append((path or "(document)", text))
    return out


def _plain(value: Any) -> Any:
    """Dates (from YAML) to ISO strings, recursively, so the schema sees JSON-like data."""
    if isinstance(value, dict):
        return {k: _plain(x) for k, x in value.items()}
    if isinstance(value, list):
        return [_plain(x) for x in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def parse_document(data: Any) -> v.RuleDocument:
    """Validate a rule document (already decoded from JSON/YAML) and return its typed form."""
    if not isinstance(data, dict):
        raise RuleDocumentError([("(document)", "a rule document is an object (a mapping)")])
    try:
        return RuleDocumentSchema().load(_plain(data))
    except ValidationError as exc:
        errors = sorted(set(flatten_errors(exc.messages)), key=lambda e: e[0])
        raise RuleDocumentError(errors) from None


def decode_text(text: str, filename: str = "") -> Any:
    """Decode JSON or YAML text (by extension; JSON first otherwise). Numbers with decimals stay exact."""
    import yaml

    if filename.lower().endswith((".yaml", ".yml")):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else "(document)"
            raise RuleDocumentError([(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        if filename.lower().endswith(".json"):
            raise RuleDocumentError([(f"line {exc.lineno}", f"not valid JSON: {exc.msg}")]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise RuleDocumentError([("(document)", "neither valid JSON nor valid YAML")]) from None
