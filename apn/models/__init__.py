"""The domain model: one module per aggregate. Importing this package registers every table."""

from apn.models.application import Application, Decision, DecisionLine
from apn.models.association import Association
from apn.models.audit import AuditEntry
from apn.models.base import TenantEntity, TenantScoped, allocate_ids, id_counter
from apn.models.clash import ClashFlag
from apn.models.client import PartnerAuthorisation, PartnerClient, PartnerPerson
from apn.models.group import Group, GroupMember
from apn.models.idempotency import IdempotencyKey
from apn.models.payout import Payout, PayoutBatch
from apn.models.person import Person
from apn.models.person_name import AssociationPersonName
from apn.models.ruleset import RuleSet
from apn.models.session import ActivitySession, Attendance, GrantPeriod
from apn.models.tenant import Facility, HomeArea, Tenant
from apn.models.user import LeaderInvitation, LoginFailure, RoleGrant, User

__all__ = [
    "ActivitySession",
    "Application",
    "Association",
    "AssociationPersonName",
    "ClashFlag",
    "Attendance",
    "AuditEntry",
    "Decision",
    "DecisionLine",
    "Facility",
    "GrantPeriod",
    "Group",
    "GroupMember",
    "HomeArea",
    "IdempotencyKey",
    "LeaderInvitation",
    "LoginFailure",
    "PartnerAuthorisation",
    "PartnerClient",
    "PartnerPerson",
    "Payout",
    "PayoutBatch",
    "Person",
    "RoleGrant",
    "RuleSet",
    "Tenant",
    "TenantEntity",
    "TenantScoped",
    "User",
    "allocate_ids",
    "id_counter",
]
