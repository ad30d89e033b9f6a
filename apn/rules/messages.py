"""Reasons in words a leader understands, in Swedish and English, for sessions and participations."""

from __future__ import annotations

from dataclasses import dataclass

from apn.rules import vocabulary as v

TYPE_NAMES = {"Traening": ("träning", "training"), "Match": ("match", "match"), "Moete": ("möte", "meeting"),
              "Oevrigt": ("övrigt", "other")}
WINDOW_NAMES = {"day": ("samma dag", "the same day"), "week": ("samma vecka", "the same week"),
                "year": ("samma år", "the same year")}


@dataclass(frozen=True)
class Reason:
    """A reason code with a Swedish and an English sentence."""

    code: str
    sv: str
    en: str

    def as_dict(self) -> dict:
        """JSON form."""
        return {"code": self.code, "sv": self.sv, "en": self.en}


def _basis(basis: str) -> tuple[str, str]:
    return ("under året", "in the year") if basis == "year" else ("fyllda", "completed years")


# --- sessions ---------------------------------------------------------------------------------------------

def type_excluded(session_type: str) -> Reason:
    """The session type gives no grant."""
    sv, en = TYPE_NAMES.get(session_type, (session_type, session_type))
    return Reason("type_excluded", f"Sammankomster av typen {sv} ger inget stöd",
                  f"Sessions of type {en} are not supported")


def time_window(window: v.TimeWindow) -> Reason:
    """The session falls in an excluded time window."""
    return Reason("time_window", f"Sammankomsten låg inom {window.label_sv} ({window.describe()}) och ger inget stöd",
                  f"The session fell within {window.label_en} ({window.describe()}) and is not supported")


def too_short(minutes: int, minimum: int) -> Reason:
    """Shorter than the minimum duration."""
    return Reason("too_short", f"Sammankomsten var {minutes} minuter; minst {minimum} krävs",
                  f"The session lasted {minutes} minutes; at least {minimum} are required")


def no_leader(count: int, minimum: int, rules: v.LeaderRules) -> Reason:
    """Too few present leaders (of the required age)."""
    sv_b, en_b = _basis(rules.age_basis)
    age_sv = f" som är minst {rules.min_age} år {sv_b}" if rules.min_age else ""
    age_en = f" aged at least {rules.min_age} ({en_b})" if rules.min_age else ""
    return Reason("no_leader", f"Sammankomsten hade {count} närvarande ledare{age_sv}; minst {minimum} krävs",
                  f"The session had {count} present leaders{age_en}; at least {minimum} required")


def too_few_participants(count: int, minimum: int) -> Reason:
    """Too few present eligible participants."""
    return Reason("too_few_participants",
                  f"Sammankomsten hade {count} närvarande deltagare som ger stöd; minst {minimum} krävs",
                  f"The session had {count} present eligible participants; at least {minimum} are required")


def association_not_qualified(q: v.Qualification, sessions: int, participants: int) -> Reason:
    """The association did not reach the period's thresholds."""
    return Reason(
        "association_not_qualified",
        f"Föreningen når inte kraven för stöd denna period: {sessions} giltiga sammankomster (minst "
        f"{q.min_sessions}) och {participants} deltagare som ger stöd (minst {q.min_participants})",
        f"The association does not qualify this period: {sessions} valid sessions (at least {q.min_sessions}) "
        f"and {participants} eligible participants (at least {q.min_participants})")


# --- participations ---------------------------------------------------------------------------------------

COUNTED = Reason("counted", "Räknas", "Counted")
ABSENT = Reason("absent", "Inte närvarande", "Not present")
SESSION_REJECTED = Reason("session_rejected", "Sammankomsten godkändes inte", "The session was not accepted")
LEADER_PAID = Reason("leader_paid", "Ledarstöd betalas", "Leader grant paid")
LEADER_NOT_PAID = Reason("leader_not_paid", "Reglerna ger inget ledarstöd för denna ledare",
                         "The rules pay no leader grant for this leader")
LEADER_COUNTED = Reason("leader_present", "Närvarande ledare", "Present leader")


def not_eligible(age: int, rules: v.ParticipantRules) -> Reason:
    """Outside every eligibility band."""
    sv_b, en_b = _basis(rules.age_basis)
    bands_sv = " eller ".join(c.describe("sv") for c in rules.eligible)
    bands_en = " or ".join(c.describe("en") for c in rules.eligible)
    return Reason("not_eligible", f"Deltagaren är {age} år {sv_b}; stöd ges för {bands_sv}",
                  f"The participant is {age} ({en_b}); the grant covers {bands_en}")


def leader_cap(per_leader: int, leaders: int) -> Reason:
    """Cut by the per-leader maximum."""
    return Reason("leader_cap",
                  f"Högst {per_leader} deltagare per närvarande ledare räknas; sammankomsten hade {leaders} ledare",
                  f"At most {per_leader} participants per present leader are counted; the session had "
                  f"{leaders} leaders")


def session_cap(maximum: int) -> Reason:
    """Cut by the per-session maximum."""
    return Reason("session_cap", f"Högst {maximum} deltagare per sammankomst räknas",
                  f"At most {maximum} participants per session are counted")


def person_cap(cap: v.Cap) -> Reason:
    """Cut by a per-person cap (day, ISO week or year within the association)."""
    sv, en = WINDOW_NAMES[cap.per]
    return Reason(f"cap_{cap.per}",
                  f"Deltagaren har redan räknats {cap.max} gånger {sv} i föreningen (högst {cap.max}, {cap.clause})",
                  f"The participant was already counted {cap.max} times {en} in the association "
                  f"(at most {cap.max}, {cap.clause})")


def late(days: int, percent: int, cutoff: bool) -> tuple[str, str]:
    """Description of a late-submission reduction."""
    if cutoff:
        return (f"Ansökan kom in {days} dagar efter sista dag; efter spärrgränsen betalas inget",
                f"The application came {days} days after the deadline; past the cut-off nothing is paid")
    return (f"Ansökan kom in {days} dagar efter sista dag: avdrag {percent} %",
            f"The application came {days} days after the deadline: reduced by {percent} %")


UNIT_NAMES = {
    "session": ("giltig sammankomst", "valid session"),
    "extra_leader": ("extra ledare", "extra leader"),
    "participation": ("deltagartillfälle", "participation"),
    "leader_participation": ("ledartillfälle", "leader participation"),
}


def rate_description(rate: v.Rate) -> tuple[str, str]:
    """The words of an explanation line of a rate."""
    if rate.description_sv or rate.description_en:
        return rate.description_sv or rate.description_en or "", rate.description_en or rate.description_sv or ""
    sv, en = UNIT_NAMES[rate.unit]
    cond_sv, cond_en = rate.when.describe("sv"), rate.when.describe("en")
    pot_sv = f" (andel {rate.pot_share} % av potten)" if rate.pot_share is not None else ""
    pot_en = f" (share {rate.pot_share} % of the pot)" if rate.pot_share is not None else ""
    if cond_sv == "alla":
        return f"Per {sv}{pot_sv}", f"Per {en}{pot_en}"
    return f"Per {sv}, {cond_sv}{pot_sv}", f"Per {en}, {cond_en}{pot_en}"
