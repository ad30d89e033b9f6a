"""The partner client against the real app over HTTP on 127.0.0.1 (and through a flaky proxy)."""

from __future__ import annotations

import io

import pytest
from netutil import FlakyProxy

from integrations.apn_client import ApiError, ApnClient, AuthError, TransportError, parse_retry_after
from integrations.apn_client.__main__ import main as cli_main

SESSION = {"card_number": "77", "date": "2026-03-04", "start_time": "18:00", "stop_time": "19:30",
           "type": "Traening", "participants": [{"personnummer": None, "first_name": "Alva", "last_name": "Berg",
                                                 "birth_date": "2014-05-17", "sex": "F"}],
           "leaders": [{"first_name": "Lena", "last_name": "Holm", "birth_date": "1980-02-02", "sex": "F"}]}


class FakeClock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client(url, partner, **kw) -> ApnClient:
    kw.setdefault("sleep", lambda s: None)
    kw.setdefault("backoff", 0.01)
    return ApnClient(url, partner.client_id, partner.secret, timeout=20, **kw)


@pytest.fixture
def card(live, partner):
    """Card 77 of the partner's association, PUT through the client."""
    _client(live.url, partner).put_group(partner.orgnr, "77", {"name": "Judo barn", "facility": "Dojon"})


def _session(partner) -> dict:
    body = {**SESSION, "organisationsnummer": partner.orgnr}
    body["participants"] = [{k: v for k, v in p.items() if v is not None} for p in body["participants"]]
    return body


def test_token_is_fetched_once_and_renewed_before_expiry(live, partner):
    clock = FakeClock()
    c = _client(live.url, partner, clock=clock)
    assert c.associations() == [{"organisationsnummer": partner.orgnr, "name": "IK Simulator"}]
    c.associations()
    tokens = [e for e in c.events if e[0] == "token"]
    assert len(tokens) == 1
    clock.now += tokens[0][1] - 10  # inside the renewal margin
    c.associations()
    assert len([e for e in c.events if e[0] == "token"]) == 2


def test_a_refused_token_is_renewed_once(live, partner):
    c = _client(live.url, partner)
    c.token()
    c._token = "not-a-token"  # e.g. the server's signing key changed
    assert c.associations()[0]["organisationsnummer"] == partner.orgnr
    assert ("retry", "401", 0, 0.0) in c.events


def test_bad_credentials(live, partner):
    c = ApnClient(live.url, partner.client_id, "wrong-secret", sleep=lambda s: None)
    with pytest.raises(AuthError) as exc:
        c.associations()
    assert exc.value.status == 401 and exc.value.body["error"] == "invalid_client"
    assert "wrong-secret" not in repr(c)


def test_client_mistakes_raise_with_field_messages_and_are_not_retried(live, partner):
    c = _client(live.url, partner)
    bad = {**_session(partner), "date": "2026-02-30"}
    with pytest.raises(ApiError) as exc:
        c.put_session("K-1", bad)
    assert exc.value.status == 422 and "date" in str(exc.value.field_errors)
    assert not [e for e in c.events if e[0] == "retry"]


def test_put_get_patch_delete_a_session(live, partner, card):
    c = _client(live.url, partner)
    created = c.put_session("K-100", _session(partner))
    assert created["counts"] == {"participations": 1, "leader_participations": 1}
    assert c.get_session("K-100")["kod"] == "K-100"
    assert [s["kod"] for s in c.iter_sessions(limit=1)] == ["K-100"]
    c.delete_session("K-100")
    with pytest.raises(ApiError) as exc:
        c.get_session("K-100")
    assert exc.value.status == 404


def test_a_dropped_answer_is_retried_with_the_same_key_and_replayed(live, partner, card):
    puts = []

    def policy(n: int, line: bytes) -> str:
        if line.startswith(b"PUT"):
            puts.append(n)
            return "drop_after" if len(puts) == 1 else "forward"
        return "forward"

    proxy = FlakyProxy(live.port, policy)
    try:
        c = _client(proxy.url, partner)
        reply = c.request("PUT", "/sessions/K-200", json=_session(partner))
        assert reply.status == 201 and reply.replayed
        assert proxy.count("drop_after") == 1
        keys = {k for a, line, k in proxy.log if line.startswith(b"PUT")}
        assert len(keys) == 1 and None not in keys  # one logical request, one key, sent twice
        assert [e[1] for e in c.events if e[0] == "retry"] == ["ConnectionError"]
        # The next logical request gets a new key.
        again = c.request("PUT", "/sessions/K-200", json=_session(partner))
        assert again.status == 200 and not again.replayed
    finally:
        proxy.stop()


def test_503_and_drops_before_the_server_are_retried(live, partner):
    plan = {1: "503", 2: "503", 3: "drop_before"}
    proxy = FlakyProxy(live.port, lambda n, line: plan.get(n, "forward"))
    slept: list[float] = []
    try:
        c = _client(proxy.url, partner, sleep=slept.append)
        assert c.associations()[0]["organisationsnummer"] == partner.orgnr
        assert [e[1] for e in c.events if e[0] == "retry"] == ["503", "503", "ConnectionError"]
        assert slept[:2] == [0.0, 0.0]  # Retry-After: 0 honoured exactly
        assert 0 < slept[2] <= 0.04  # backoff after a drop: 0.01·2² with jitter
    finally:
        proxy.stop()


def test_gives_up_after_the_retries(partner):
    proxy = FlakyProxy(1, lambda n, line: "drop_before")
    try:
        c = _client(proxy.url, partner, max_retries=2)
        with pytest.raises(TransportError):
            c.associations()
        assert proxy.count("drop_before") == 3
    finally:
        proxy.stop()


def test_exponential_backoff_grows():
    c = ApnClient("http://127.0.0.1:9", "id", "secret", backoff=1, max_backoff=10)
    delays = [c._delay(i) for i in range(6)]
    for i, d in enumerate(delays):
        assert min(10, 2 ** i) / 2 <= d <= min(10, 2 ** i)


def test_retry_after_forms():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_429_waits_as_long_as_retry_after_says(live, partner):
    # The proxy answers 429 with Retry-After like a rate-limiting gateway in front of the app would.
    proxy = FlakyProxy(live.port, lambda n, line: "429" if n in (1, 2) else "forward")
    slept: list[float] = []
    try:
        c = _client(proxy.url, partner, sleep=slept.append)
        assert c.associations()[0]["organisationsnummer"] == partner.orgnr
        assert [e[1] for e in c.events if e[0] == "retry"] == ["429", "429"]
        assert slept == [3.0, 3.0]  # the server's Retry-After, not the 0.01 s backoff
        capped = _client(proxy.url, partner, sleep=slept.append, max_backoff=2.0)
        proxy.policy = lambda n, line: "429" if n == 5 else "forward"
        capped.associations()
        assert slept[-1] == 2.0  # never longer than max_backoff
    finally:
        proxy.stop()


def test_bulk_splits_into_chunks_and_merges(live, partner, card):
    c = _client(live.url, partner)
    items = [{**_session(partner), "kod": f"B-{i:04d}", "method": "add"} for i in range(5)]
    items[3]["date"] = "nope"
    result = c.bulk_sessions(items, chunk_size=2)
    assert result.requests == 3
    assert sorted(a["index"] for a in result.accepted) == [0, 1, 2, 4]
    assert [(r["index"], r["kod"]) for r in result.refused] == [(3, "B-0003")]
    assert result.totals["accepted"] == 4 and result.totals["refused"] == 1
    with pytest.raises(ValueError):
        c.bulk_sessions(items, chunk_size=0)


def _dak(orgnr: str, kods: list[str]) -> bytes:
    ns = "http://sverigesforeningssystem.se/importSchema.xsd"
    sessions = "".join(
        f'<Sammankomst kod="{k}" Datum="2026-03-0{i + 2}"><StartTid>18:00:00</StartTid><StoppTid>19:00:00</StoppTid>'
        f'<Aktivitet>Judo</Aktivitet><Lokal>Dojon</Lokal><Typ>Traening</Typ><Metod>Add</Metod>'
        f'<DeltagarLista><Deltagare id="d1"><Handikapp>false</Handikapp><Naervarande>true</Naervarande></Deltagare>'
        f'</DeltagarLista><LedarLista><Ledare id="l1"><Handikapp>false</Handikapp><Naervarande>true</Naervarande>'
        f'</Ledare></LedarLista></Sammankomst>\n' for i, k in enumerate(kods))
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<Aktivitetskort xmlns="{ns}">\n'
            f'<Kommun kommunID="2480" version="2.2"><Foerening foereningsID="F1" organisationsnummer="{orgnr}">\n'
            f'<Naervarokort NaervarokortNummer="9"><Aktivitet>Judo</Aktivitet><Lokal>Dojon</Lokal><Sammankomster>\n'
            f'{sessions}</Sammankomster></Naervarokort></Foerening></Kommun>\n'
            f'<DeltagarRegister><Deltagare id="d1"><Foernamn>Alva</Foernamn><Efternamn>Berg</Efternamn>'
            f'<Personnummer>201405173806</Personnummer></Deltagare></DeltagarRegister>\n'
            f'<LedarRegister><Ledare id="l1"><Foernamn>Lena</Foernamn><Efternamn>Holm</Efternamn>'
            f'<Personnummer>198002023805</Personnummer></Ledare></LedarRegister>\n'
            f'</Aktivitetskort>\n').encode()


def test_dak_upload_command(live, partner, tmp_path, monkeypatch):
    good = tmp_path / "good.xml"
    good.write_bytes(_dak(partner.orgnr, ["D-001", "D-002"]))
    monkeypatch.setenv("APN_CLIENT_SECRET", partner.secret)
    out = io.StringIO()
    status = cli_main(["dak-upload", "--base-url", live.url, "--client-id", partner.client_id, str(good)], out)
    text = out.getvalue()
    assert status == 0, text
    assert "sessions (sammankomster)" in text
    assert [line.split()[-2:] for line in text.splitlines()[1:4]] == [["2", "2"], ["2", "2"], ["2", "2"]]
    # Some refused: exit status 2 and the lines are listed.
    part = tmp_path / "part.xml"
    part.write_bytes(_dak(partner.orgnr, ["D-003", "x"]))
    out = io.StringIO()
    assert cli_main(["dak-upload", "--base-url", live.url, "--client-id", partner.client_id, str(part)], out) == 2
    line = next(i + 1 for i, t in enumerate(part.read_text().splitlines()) if 'kod="x"' in t)
    assert "1 session(s) refused" in out.getvalue() and f"line {line}: kod x:" in out.getvalue()
    # A file that is not XML: exit status 1 and the server's message.
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"not xml")
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    assert cli_main(["dak-upload", "--base-url", live.url, "--client-id", partner.client_id, str(bad)]) == 1
    assert "not well-formed" in err.getvalue()
