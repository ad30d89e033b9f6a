"""The attendance-mark list's fast path loads exactly what the nested marshmallow schema loads."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields

from apn.api.schemas import LeaderMarkSchema, MarkList, ParticipantMarkSchema


class _Fast(Schema):
    marks = MarkList(ParticipantMarkSchema)
    leaders = MarkList(LeaderMarkSchema)


class _Reference(Schema):
    marks = fields.List(fields.Nested(ParticipantMarkSchema))
    leaders = fields.List(fields.Nested(LeaderMarkSchema))


def _load(schema: Schema, body: dict):
    try:
        return "ok", schema.load(body)
    except ValidationError as exc:
        return "error", exc.messages


_text = st.one_of(
    st.text(alphabet=st.characters(codec="ascii"), max_size=60),  # includes control characters and blanks
    st.text(max_size=15),  # any Unicode
    st.sampled_from(["p-1", " p-2 ", "201205172305", "20120517-2305", "Alva", "", "   ", "Åsa", "a\u00a0b"]),
)
_value = st.one_of(_text, st.booleans(), st.none(), st.integers(-2, 2), st.sampled_from(["true", "2012-05-17"]))
_keys = st.sampled_from(["person_id", "personnummer", "first_name", "last_name", "birth_date", "sex",
                         "present", "disability", "temporary_leader", "unknown"])
_mark = st.dictionaries(_keys, _value, max_size=6)
_marks = st.lists(st.one_of(_mark, st.just("not a mark")), max_size=4)


@settings(max_examples=400, deadline=None)
@given(marks=_marks, leaders=_marks)
def test_fast_path_is_the_schema(marks, leaders):
    body = {"marks": marks, "leaders": leaders}
    assert _load(_Fast(), body) == _load(_Reference(), body)


def test_the_common_mark_takes_the_fast_path():
    field = _Fast().fields["marks"]
    mark = {"person_id": " p-1 ", "present": False}
    assert field._fast(mark) == {"person_id": "p-1", "present": False, "disability": False,
                                 "temporary_leader": False}
    # and whatever the fast path cannot vouch for goes to the schema
    for unusual in ({"person_id": "p-1", "present": "true"}, {"person_id": "Åsa"}, {"person_id": None},
                    {"first_name": "A", "last_name": "B", "birth_date": "2012-05-17"}, {"person_id": "p\x01"}):
        assert field._fast(unusual) is None


@pytest.mark.parametrize("bad, where", [
    ({"person_id": "x" * 51}, "person_id"),
    ({"person_id": "p-1", "present": "maybe"}, "present"),
    ({"present": True}, "person_id"),
])
def test_bad_marks_keep_the_schema_messages(bad, where):
    status, messages = _load(_Fast(), {"marks": [{"person_id": "p-0"}, bad]})
    assert status == "error"
    assert where in messages["marks"][1]
