"""The rule vocabulary: the parsed, typed form of a rule document (see ``docs/rules.md``).

A document is validated and turned into these dataclasses by :func:`apn.rules.schema.parse_document`. The
engine (:mod:`apn.rules.engine`) only ever reads these, never the raw JSON. Money is held in öre (int).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

ROLES = ("participant", "leader", "temporary_leader")
ROLE_CODES = {"participant": 0, "leader": 1, "temporary_leader": 2}
SEX_CODES = {"F": 0, "M": 1, "X": 2}
SESSION_TYPE_CODES = {"Traening": 0, "Match": 1, "Moete": 2, "Oevrigt": 3}
UNITS = ("session", "extra_leader", "participation", "leader_participation")
CAP_WINDOWS = ("day", "week", "year")
AGE_BASES = ("year", "exact")
ROUNDING = ("floor", "half_up")


@dataclass(frozen=True)
class IntRange:
    """An inclusive range; an open end is None."""

    min: int | None = None
    max: int | None = None

    def describe(self) -> str:
        """``7–20``, ``65–`` or ``–12``."""
        lo = "" if self.min is None else str(self.min)
        hi = "" if self.max is None else str(self.max)
        return f"{lo}–{hi}"


@dataclass(frozen=True)
class Condition:
    """What a participation, leader participation or session must be for a band, cap or rate to apply.

    Every given field must hold (AND); an empty condition always holds.
    """

    age: IntRange | None = None
    sex: tuple[str, ...] | None = None
    disability: bool | None = None
    disability_association: bool | None = None
    role: tuple[str, ...] | None = None
    session_types: tuple[str, ...] | None = None
    week_rank: IntRange | None = None

    def describe(self, lang: str = "sv") -> str:
        """A short human description (used in explanations)."""
        parts = []
        sv = lang == "sv"
        if self.age is not None:
            parts.append(f"{self.age.describe()} år" if sv else f"aged {self.age.describe()}")
        if self.sex is not None:
            names = {"F": ("flickor/kvinnor", "girls/women"), "M": ("pojkar/män", "boys/men"),
                     "X": ("annat kön", "other sex")}
            parts.append("/".join(names[s][0 if sv else 1] for s in self.sex))
        if self.disability is not None:
            if sv:
                parts.append("med funktionsnedsättning" if self.disability else "utan funktionsnedsättning")
            else:
                parts.append("with a disability" if self.disability else "without a disability")
        if self.disability_association is not None:
            if sv:
                parts.append("i handikappförening" if self.disability_association else "ej handikappförening")
            else:
                parts.append("in a disability association" if self.disability_association
                             else "not a disability association")
        if self.role is not None:
            names = {"participant": ("deltagare", "participant"), "leader": ("ledare", "leader"),
                     "temporary_leader": ("tillfällig ledare", "temporary leader")}
            parts.append("/".join(names[r][0 if sv else 1] for r in self.role))
        if self.session_types is not None:
            parts.append("/".join(self.session_types))
        if self.week_rank is not None:
            parts.append(f"veckans aktivitet nr {self.week_rank.describe()}" if sv
                         else f"activity no. {self.week_rank.describe()} of the week")
        return ", ".join(parts) if parts else ("alla" if sv else "all")


@dataclass(frozen=True)
class TimeWindow:
    """A weekly time window in which sessions are not supported (e.g. school hours)."""

    weekdays: tuple[int, ...]  # ISO: 1 = Monday … 7 = Sunday
    start_minute: int
    end_minute: int
    label_sv: str = "undantagen tid"
    label_en: str = "excluded hours"

    def describe(self) -> str:
        """``mån–fre 08:00–15:00`` style text (digits only, language neutral)."""
        def hhmm(m: int) -> str:
            return f"{m // 60:02d}:{m % 60:02d}"
        return f"{','.join(str(d) for d in self.weekdays)} {hhmm(self.start_minute)}–{hhmm(self.end_minute)}"


@dataclass(frozen=True)
class ParticipantRules:
    """Who counts as an eligible participant."""

    age_basis: str = "year"
    #: Eligible when any band holds; an empty list means everyone present is eligible.
    eligible: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class LeaderRules:
    """Who counts as a present leader for a session's validity and the per-leader cap."""

    age_basis: str = "year"
    roles: tuple[str, ...] = ("leader", "temporary_leader")
    min_age: int | None = None
    max_age: int | None = None


@dataclass(frozen=True)
class SessionRules:
    """When a session is valid, and how many participations it may count."""

    min_duration_minutes: int = 0
    min_participants: int = 0
    min_participants_all_disabled: int | None = None
    min_leaders: int = 0
    max_counted_per_leader: int | None = None
    max_counted_per_session: int | None = None
    excluded_types: tuple[str, ...] = ()
    excluded_windows: tuple[TimeWindow, ...] = ()


@dataclass(frozen=True)
class Cap:
    """At most ``max`` counted participations per person and window within an association."""

    clause: str
    per: str
    max: int
    when: Condition = field(default_factory=Condition)


@dataclass(frozen=True)
class Rate:
    """An amount per unit, or a share of the period's pot, for the units matching ``when``."""

    clause: str
    unit: str
    amount_ore: int | None = None
    pot_share: Decimal | None = None
    when: Condition = field(default_factory=Condition)
    max_units_per_session: int | None = None
    description_sv: str | None = None
    description_en: str | None = None


@dataclass(frozen=True)
class Qualification:
    """Thresholds an association must reach in the period to be paid at all."""

    min_participants: int = 0
    min_sessions: int = 0


@dataclass(frozen=True)
class AssociationRules:
    """Per-association amounts and thresholds."""

    base_amount_ore: int = 0
    qualification: Qualification = field(default_factory=Qualification)
    qualification_disability_association: Qualification | None = None


@dataclass(frozen=True)
class Reduction:
    """Reduce the association's amount by ``percent`` when submitted ``days_late`` or more days late."""

    days_late: int
    percent: int


@dataclass(frozen=True)
class LateRules:
    """Late-submission reductions and the cut-off after which nothing is paid."""

    reductions: tuple[Reduction, ...] = ()
    cutoff_days: int | None = None


@dataclass(frozen=True)
class Pot:
    """A fixed sum per period split by the rates' ``pot_share``."""

    amount_ore: int
    by_period: dict[str, int] = field(default_factory=dict)

    def for_period(self, code: str) -> int:
        """The pot of one period (the specific one, or the default)."""
        return self.by_period.get(code, self.amount_ore)


@dataclass(frozen=True)
class PluginUse:
    """A code plugin named in the document, with its parameters."""

    name: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RuleDocument:
    """One parsed rule document."""

    name: str
    participants: ParticipantRules
    leaders: LeaderRules
    session: SessionRules
    caps: tuple[Cap, ...] = ()
    rates: tuple[Rate, ...] = ()
    association: AssociationRules = field(default_factory=AssociationRules)
    late: LateRules = field(default_factory=LateRules)
    pot: Pot | None = None
    plugins: tuple[PluginUse, ...] = ()
    rounding: str = "floor"
    valid_from: dt.date | None = None
    description: str | None = None

    def rates_for(self, unit: str) -> list[tuple[int, Rate]]:
        """Rates of one unit with their index in :attr:`rates`, in document order."""
        return [(i, r) for i, r in enumerate(self.rates) if r.unit == unit]
