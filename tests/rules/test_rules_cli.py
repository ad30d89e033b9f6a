"""``flask rules check / install / evaluate``."""

from __future__ import annotations

import datetime as dt
import json

from apn.extensions import db
from apn.rules.rulesets import PRESET_DIR, load_preset
from apn.services.tenants import ensure_periods
from apn.testing import factories as f


def test_check_accepts_every_preset(runner):
    for path in sorted(PRESET_DIR.glob("*.json")):
        out = runner.invoke(args=["rules", "check", str(path)])
        assert out.exit_code == 0, out.output
        assert out.output.startswith("ok: ")


def test_check_names_each_error_with_its_path(runner, tmp_path):
    doc = load_preset("kungsbacka-2023")
    doc["rates"].append({"unit": "participation", "amount": "1.005", "age": {"min": 10, "max": 5}})
    doc["caps"][1]["per"] = "month"
    doc["sesion"] = {}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = runner.invoke(args=["rules", "check", str(path)])
    assert out.exit_code == 1
    lines = out.output.strip().splitlines()
    assert "rates[2].age.max: must be ≥ min" in lines
    assert "rates[2].amount: at most two decimals (whole öre)" in lines
    assert "caps[1].per: Must be one of: day, week, year." in lines
    assert "sesion: unknown field (check the spelling)" in lines


def test_check_reads_yaml(runner, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("name: Liten kommun\nparticipants:\n  eligible:\n    - age: {min: 7, max: 20}\n"
                    "rates:\n  - {unit: participation, amount: 7.50}\n  - {unit: session, amount: 1.234}\n",
                    encoding="utf-8")
    out = runner.invoke(args=["rules", "check", str(path)])
    assert out.exit_code == 1
    assert "rates[1].amount: at most two decimals (whole öre)" in out.output


def test_install_and_evaluate_json_and_table(app, runner, tmp_path):
    with app.app_context():
        t = f.create_tenant(slug="kungsbacka", kommunkod="1384", ruleset="kungsbacka-2023")
        ensure_periods(t.id, [2025])
        a = f.create_association(t, name="Kungsbacka IF")
        g = f.create_group(t, a)
        kids = [f.create_person(t, dt.date(2013, 1, 1 + i)) for i in range(3)]
        lead = f.create_person(t, dt.date(1990, 1, 1))
        f.report_session(t, g, dt.date(2025, 7, 7), participants=kids, leaders=[lead])
        orgnr = a.organisationsnummer_display
        db.session.commit()
    out = runner.invoke(args=["rules", "evaluate", "--tenant", "kungsbacka", "--period", "2025H2", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {
        "tenant": "kungsbacka", "period": "2025H2", "total_ore": 2250,
        "associations": [{"organisationsnummer": orgnr, "name": "Kungsbacka IF", "total_ore": 2250,
                          "sessions_valid": 1, "sessions_rejected": 0, "participations_counted": 3}]}
    doc = load_preset("kungsbacka-2023")
    doc["rates"][0]["amount"] = "9.00"
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    out = runner.invoke(args=["rules", "install", "--tenant", "kungsbacka", "--valid-from", "2025-07-01", str(path)])
    assert out.exit_code == 0, out.output
    assert "version 2" in out.output
    out = runner.invoke(args=["rules", "evaluate", "--tenant", "kungsbacka", "--period", "2025H2"])
    assert out.exit_code == 0, out.output
    assert "Kungsbacka IF" in out.output and "27,00" in out.output
    out = runner.invoke(args=["rules", "install", "--tenant", "kungsbacka", "--valid-from", "2025-07-01", str(path)])
    assert out.exit_code != 0 and "valid_from" in out.output
    out = runner.invoke(args=["rules", "evaluate", "--tenant", "kungsbacka", "--period", "1999H1"])
    assert out.exit_code != 0 and "period" in out.output
