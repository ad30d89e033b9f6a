"""The batch check's statements keep their shape on PostgreSQL, whatever the planner believes.

On small or freshly analysed tables, with the row-level-security policy making every estimate wrong, the
planner once drove the pair query from all sessions of the tenant: seconds for a 100-session batch. The
statements now nest LATERAL subqueries so that the only possible plan goes from the batch's attendance to
the same people's attendances by ``ix_attendance_span`` and reaches sessions by primary key.
"""

from __future__ import annotations

import datetime as dt

import pytest
from clashkit import DAY, command, report
from sqlalchemy import bindparam, text

from apn.clash import detection
from apn.extensions import db
from apn.tenancy import system_scope, tenant_scope


@pytest.mark.parametrize("kind", ["pairs", "cross"])
def test_the_check_goes_from_the_batch_by_person_and_time(world, postgres, kind):
    people = world.people[:10]
    groups = (world.ga, world.gb, world.ga2)
    result = report(world.tenant, *(command(groups[i % 3], date=DAY + dt.timedelta(days=i // 3), start="18:00",
                                            stop="19:30", participants=people, code=f"plan-{i}")
                                    for i in range(200)))
    ids = [o.session_id for o in result.accepted[-100:]]
    with tenant_scope(world.tenant.id), system_scope():
        conn = db.session.connection()
        conn.exec_driver_sql("SELECT apn_refresh_statistics()")  # as the intake does after large batches
        stmt = detection._for_ids(kind, "postgresql")
        explain = text("EXPLAIN " + stmt.text).bindparams(bindparam("ids", expanding=True))
        plan = "\n".join(r[0] for r in conn.execute(explain, {"t": world.tenant.id, "ids": ids}))
    db.session.rollback()
    assert "ix_attendance_span" in plan, plan
    assert "Seq Scan on activity_session" not in plan, plan
    assert "ix_activity_session_tenant_starts" not in plan, plan
    assert "Hash Join" not in plan and "Merge Join" not in plan, plan
