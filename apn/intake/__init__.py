"""The one intake for every channel."""

from apn.intake.commands import AttendanceMark, PersonRef, SessionCommand
from apn.intake.service import IntakeResult, Outcome, Refusal, ingest, register_after_persist

__all__ = [
    "AttendanceMark",
    "IntakeResult",
    "Outcome",
    "PersonRef",
    "Refusal",
    "SessionCommand",
    "ingest",
    "register_after_persist",
]
