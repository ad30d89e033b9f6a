"""A client for the apn REST API v1, for club-administration systems (partners).

What it takes care of:

- **Tokens**: gets an access token with the OAuth2 client-credentials grant, reuses it until shortly before
  it expires, renews it then, and once more when the server answers 401 (rotated secret, restarted server).
- **Retries**: a dropped connection, a timeout, 429 and 502/503/504 are retried with exponential backoff and
  jitter; when the server sends ``Retry-After`` (seconds or an HTTP date) the client waits that long (capped
  at ``max_backoff``, 60 s by default).
- **Idempotency**: every POST/PUT/PATCH/DELETE gets an ``Idempotency-Key`` (a uuid4) per *logical* request;
  every retry of that request sends the same key, so a request whose answer was lost is not applied twice.
- **Bulk**: :meth:`ApnClient.bulk_sessions` splits any number of sessions into requests of at most 1,000
  and merges the answers, with indexes into the caller's list.
"""

from __future__ import annotations

import email.utils
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Sessions per bulk request (the server takes up to 5,000; 1,000 keeps each request small and quick).
BULK_CHUNK = 1000


class ApiError(Exception):
    """The server refused the request (a 4xx, or a 5xx after the retries); carries the error body."""

    def __init__(self, status: int, message: str, body: Any = None, kind: str = "http") -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.body = body
        self.kind = kind

    @property
    def field_errors(self) -> dict:
        """The ``errors`` part of the API's error format (location -> field -> messages)."""
        return (self.body or {}).get("errors", {}) if isinstance(self.body, dict) else {}


class AuthError(ApiError):
    """The credentials were refused (OAuth2 ``invalid_client`` and friends)."""


class TransportError(ApiError):
    """No answer from the server after all retries (connection refused, dropped, timed out)."""


@dataclass
class Reply:
    """An answer: status, parsed JSON body (or None) and headers."""

    status: int
    data: Any
    headers: dict[str, str]

    @property
    def replayed(self) -> bool:
        """True when the server replayed the stored answer of an earlier request with the same key."""
        return self.headers.get("Idempotent-Replayed", "").lower() == "true"


@dataclass
class BulkResult:
    """The merged answers of one or more bulk requests; indexes refer to the caller's list."""

    accepted: list[dict] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def add(self, offset: int, data: dict) -> None:
        """Merge one request's answer whose first item is at ``offset`` in the caller's list."""
        self.requests += 1
        for item in data.get("accepted", []):
            self.accepted.append({**item, "index": item["index"] + offset})
        for item in data.get("refused", []):
            self.refused.append({**item, "index": item["index"] + offset})
        for k, v in (data.get("totals") or {}).items():
            if isinstance(v, int):
                self.totals[k] = self.totals.get(k, 0) + v


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class ApnClient:
    """The REST API v1 of one apn installation, as one partner client."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, *,
                 session: requests.Session | None = None, timeout: float = 30.0, max_retries: int = 6,
                 backoff: float = 0.5, max_backoff: float = 60.0, renew_margin: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 user_agent: str = "apn-client/1.0") -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/api/v1"):
            self.base_url += "/api/v1"
        self.client_id = client_id
        self._secret = client_secret
        self.http = session or requests.Session()
        self.http.headers["User-Agent"] = user_agent
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.renew_margin = renew_margin
        self.sleep = sleep
        self.clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        #: What happened, for tests and logs: ("retry", reason, attempt, delay) and ("token", ...) tuples.
        self.events: list[tuple] = []

    def __repr__(self) -> str:  # never show the secret
        return f"<ApnClient {self.base_url} client_id={self.client_id}>"

    # --- tokens -----------------------------------------------------------------------------------------

    def token(self, force: bool = False) -> str:
        """A valid access token: the cached one, or a new one when it is about to expire (or ``force``)."""
        if not force and self._token and self.clock() < self._expires_at - self.renew_margin:
            return self._token
        reply = self._send("POST", "/auth/token", data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._secret,
        }, auth=False)
        data = reply.data or {}
        if "access_token" not in data:
            raise AuthError(reply.status, "the token endpoint answered without an access_token", data)
        self._token = data["access_token"]
        self._expires_at = self.clock() + float(data.get("expires_in") or 300)
        self.events.append(("token", int(data.get("expires_in") or 0)))
        return self._token

    # --- the one request loop ---------------------------------------------------------------------------

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: about backoff·2^attempt, at most max_backoff."""
        base = min(self.max_backoff, self.backoff * (2 ** attempt))
        return base * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                data: Any = None, headers: dict[str, str] | None = None,
                idempotency_key: str | None = None) -> Reply:
        """Send one logical request (with retries) and return the answer; 4xx raise :class:`ApiError`."""
        method = method.upper()
        key = idempotency_key or (str(uuid.uuid4()) if method in MUTATING else None)
        hdrs = dict(headers or {})
        if key:
            hdrs["Idempotency-Key"] = key
        return self._send(method, path, json=json, params=params, data=data, headers=hdrs)

    def _send(self, method: str, path: str, *, json: Any = None, params: dict | None = None, data: Any = None,
              headers: dict[str, str] | None = None, auth: bool = True) -> Reply:
        url = self.base_url + path
        attempt = 0
        renewed = False
        while True:
            hdrs = {"Accept": "application/json", **(headers or {})}
            if auth:
                hdrs["Authorization"] = f"Bearer {self.token()}"
            try:
                resp = self.http.request(method, url, json=json, params=params, data=data, headers=hdrs,
                                         timeout=self.timeout, allow_redirects=False)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                if attempt >= self.max_retries:
                    raise TransportError(0, f"no answer from {url} after {attempt + 1} attempts: "
                                            f"{type(exc).__name__}", kind="transport") from exc
                delay = self._delay(attempt)
                self.events.append(("retry", type(exc).__name__, attempt, delay))
                self.sleep(delay)
                attempt += 1
                continue
            if resp.status_code == 401 and auth and not renewed:
                renewed = True  # an expired or revoked token: get a new one once, then try again
                self.events.append(("retry", "401", attempt, 0.0))
                self.token(force=True)
                continue
            if resp.status_code in RETRY_STATUSES and attempt < self.max_retries:
                wait = parse_retry_after(resp.headers.get("Retry-After"))
                delay = min(self.max_backoff, wait) if wait is not None else self._delay(attempt)
                self.events.append(("retry", str(resp.status_code), attempt, delay))
                resp.close()
                self.sleep(delay)
                attempt += 1
                continue
            body = _json(resp)
            if resp.status_code >= 400:
                message = (body.get("error_description") or body.get("message")) if isinstance(body, dict) else None
                message = message or resp.reason or "error"
                cls = AuthError if path == "/auth/token" and resp.status_code in (400, 401) else ApiError
                raise cls(resp.status_code, message, body)
            return Reply(resp.status_code, body, dict(resp.headers))

    # --- resources --------------------------------------------------------------------------------------

    def associations(self) -> list[dict]:
        """The associations that authorised this partner."""
        return self.request("GET", "/associations").data

    def groups(self, orgnr: str) -> list[dict]:
        """An association's groups (attendance cards)."""
        return self.request("GET", f"/associations/{_seg(orgnr)}/groups").data

    def put_group(self, orgnr: str, card_number: str | int, body: dict) -> dict:
        """Create or update a group by the partner's card number."""
        return self.request("PUT", f"/associations/{_seg(orgnr)}/groups/{_seg(card_number)}", json=body).data

    def put_person(self, orgnr: str, person_id: str, body: dict) -> dict:
        """Create or update a person by the partner's person id."""
        return self.request("PUT", f"/associations/{_seg(orgnr)}/people/{_seg(person_id)}", json=body).data

    def put_session(self, kod: str, body: dict) -> dict:
        """Create or replace a whole session (DAK Add)."""
        return self.request("PUT", f"/sessions/{_seg(kod)}", json=body).data

    def patch_session(self, kod: str, body: dict) -> dict:
        """Apply only the attendance marks sent (DAK Update)."""
        return self.request("PATCH", f"/sessions/{_seg(kod)}", json=body).data

    def delete_session(self, kod: str) -> Any:
        """Remove a session (DAK Remove)."""
        return self.request("DELETE", f"/sessions/{_seg(kod)}").data

    def get_session(self, kod: str) -> dict:
        """Read a session."""
        return self.request("GET", f"/sessions/{_seg(kod)}").data

    def bulk_sessions(self, sessions: Iterable[dict], chunk_size: int = BULK_CHUNK) -> BulkResult:
        """Send sessions (each with ``kod`` and ``method``) in requests of at most ``chunk_size``."""
        if not 1 <= chunk_size <= 5000:
            raise ValueError("chunk_size must be 1–5000")
        result = BulkResult()
        chunk: list[dict] = []
        offset = 0
        for item in sessions:
            chunk.append(item)
            if len(chunk) == chunk_size:
                result.add(offset, self.request("POST", "/sessions/bulk", json={"sessions": chunk}).data)
                offset += len(chunk)
                chunk = []
        if chunk:
            result.add(offset, self.request("POST", "/sessions/bulk", json={"sessions": chunk}).data)
        return result

    def iter_sessions(self, changed_since: str | None = None, limit: int = 500) -> Iterator[dict]:
        """Every session changed since a time, following the cursor page by page."""
        params: dict[str, Any] = {"limit": limit}
        if changed_since:
            params["changed_since"] = changed_since
        while True:
            page = self.request("GET", "/sessions", params=params).data
            yield from page.get("items", [])
            cursor = page.get("next_cursor")
            if not cursor:
                return
            params = {"limit": limit, "cursor": cursor}

    def expected_grant(self, orgnr: str, period: str) -> dict:
        """The grant the rules give an association for a period so far."""
        return self.request("GET", f"/associations/{_seg(orgnr)}/expected-grant", params={"period": period}).data

    def clashes(self, since: str | None = None) -> list[dict]:
        """Clash flags on the partner's sessions."""
        return self.request("GET", "/clashes", params={"since": since} if since else None).data

    def upload_dak(self, xml: bytes) -> dict:
        """Send a DAK 2.1/2.2 file; the answer holds the file's and the accepted counts and refused lines."""
        return self.request("POST", "/dak", data=xml, headers={"Content-Type": "application/xml"}).data


def _seg(value: str | int) -> str:
    """A URL path segment."""
    return quote(str(value), safe="")


def _json(resp: requests.Response) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return {"message": resp.text[:500]}
