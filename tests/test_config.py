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


def test_password_hashes_cost_the_full_argon2_work_unless_the_test_setting_says_otherwise(app, tmp_path):
    """Production hashes use argon2-cffi's RFC 9106 parameters; only the suite's config makes them cheap,
    and a hash made under one setting still verifies under the other (the hash carries its parameters)."""
    from argon2 import extract_parameters, profiles

    from apn.auth import hash_password, verify_password

    assert load_config(str(tmp_path))["PASSWORD_HASH_COST"] == "default"
    with app.test_request_context():
        assert app.config["PASSWORD_HASH_COST"] == "cheapest"
        cheap = hash_password("pw")
        app.config["PASSWORD_HASH_COST"] = "default"
        try:
            full = hash_password("pw")
            assert verify_password(cheap, "pw") and not verify_password(cheap, "other")
        finally:
            app.config["PASSWORD_HASH_COST"] = "cheapest"
        assert verify_password(full, "pw")
    assert extract_parameters(full).memory_cost == profiles.RFC_9106_LOW_MEMORY.memory_cost
    assert extract_parameters(cheap).memory_cost == profiles.CHEAPEST.memory_cost
