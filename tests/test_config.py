"""Settings: defaults < instance/apn.cfg < APN_* environment < create_app overrides."""

from __future__ import annotations

from apn.config import load_config


def test_precedence(tmp_path, monkeypatch):
    (tmp_path / "apn.cfg").write_text('DEFAULT_LOCALE = "en"\nSMALL_CELL_THRESHOLD = 7\nAPI_RATE_LIMIT = "1 per day"\n')
    monkeypatch.setenv("APN_SMALL_CELL_THRESHOLD", "9")
    monkeypatch.setenv("APN_SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("APN_API_TOKEN_TTL", "900")
    cfg = load_config(str(tmp_path), {"API_RATE_LIMIT": "5 per second"})
    assert cfg["DEFAULT_LOCALE"] == "en"  # instance file over default
    assert cfg["SMALL_CELL_THRESHOLD"] == 9  # environment over instance file, typed
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert cfg["API_TOKEN_TTL"] == 900  # typed like its default
    assert cfg["API_RATE_LIMIT"] == "5 per second"  # overrides over everything
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'apn.sqlite'}"


def test_development_secrets_are_generated_once_and_kept(tmp_path):
    first = load_config(str(tmp_path))
    second = load_config(str(tmp_path))
    for key in ("SECRET_KEY", "PNR_HASH_KEY", "PNR_ENCRYPTION_KEY"):
        assert first[key] and first[key] == second[key]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
