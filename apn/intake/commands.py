"""The intake command: what every channel (web, app, REST, DAK) turns its input into."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class PersonRef:
    """Who attended: an existing person id, a personal number, or name + birth date (+ sex).

    ``external_id`` is the partner's id for the person (DAK register id), remembered per partner.
    """

    person_id: int | None = None
    personnummer: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None
    external_id: str | None = None


@dataclass
class AttendanceMark:
    """One person at the session, with role and marks."""

    person: PersonRef
    role: str = "participant"  # participant | leader | temporary_leader
    present: bool = True
    disability: bool = False


@dataclass
class SessionCommand:
    """Create, replace, patch or remove one session.

    ``method``: ``add`` creates the session or, when a session with the same partner code (or ``session_id``)
    exists, replaces it whole; ``update`` applies only the attendance marks given and leaves the rest;
    ``remove`` deletes it. ``ref`` is what the channel calls this item in error messages (a line number,
    a list index, a form).
    """

    association_id: int
    group_id: int | None
    session_date: dt.date | None
    start_time: dt.time | None
    stop_time: dt.time | None
    channel: str
    method: str = "add"
    stop_date: dt.date | None = None
    activity: str | None = None
    facility_id: int | None = None
    session_type: str = "Traening"
    team_sport: bool = False
    partner_client_id: int | None = None
    partner_code: str | None = None
    session_id: int | None = None
    reported_by_user_id: int | None = None
    attendance: list[AttendanceMark] = field(default_factory=list)
    ref: str | None = None
