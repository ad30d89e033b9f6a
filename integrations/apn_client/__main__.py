"""Command line: ``python -m integrations.apn_client dak-upload --base-url … --client-id … FILE``.

The secret can be given with ``--client-secret`` or, better (it then stays out of the process list and the
shell history), in the environment variable ``APN_CLIENT_SECRET``. Exit status: 0 when every session was
accepted, 2 when some were refused (they are listed with their line), 1 when the upload failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from integrations.apn_client.client import ApiError, ApnClient


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m integrations.apn_client",
                                description="Client for the apn REST API v1.")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("dak-upload", help="upload a DAK 2.1/2.2 file and show what was accepted")
    up.add_argument("--base-url", required=True, help="e.g. https://apn.example.se")
    up.add_argument("--client-id", required=True)
    up.add_argument("--client-secret", default=None, help="default: $APN_CLIENT_SECRET")
    up.add_argument("--json", action="store_true", help="print the server's answer as JSON")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds per attempt (default 120)")
    up.add_argument("file", type=Path)
    return p


def _print_report(report: dict, out) -> None:
    f, a = report.get("file", {}), report.get("accepted", {})
    rows = (("sessions", "sammankomster"), ("participations", "deltagartillfällen"),
            ("leader_participations", "ledartillfällen"))
    print(f"{'':36}{'in file':>10}{'accepted':>10}", file=out)
    for key, sv in rows:
        print(f"{key + ' (' + sv + ')':36}{f.get(key, 0):>10}{a.get(key, 0):>10}", file=out)
    refused = report.get("refused", [])
    if refused:
        print(f"\n{len(refused)} session(s) refused:", file=out)
        for r in refused:
            print(f"  line {r.get('line')}: kod {r.get('kod')}: {r.get('reason')}", file=out)


def main(argv: list[str] | None = None, out=None) -> int:
    """Run the command; returns the exit status."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    secret = args.client_secret or os.environ.get("APN_CLIENT_SECRET")
    if not secret:
        print("error: give --client-secret or set APN_CLIENT_SECRET", file=sys.stderr)
        return 1
    try:
        xml = args.file.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    client = ApnClient(args.base_url, args.client_id, secret, timeout=args.timeout)
    try:
        report = client.upload_dak(xml)
    except ApiError as exc:
        print(f"error: the upload failed: {exc}", file=sys.stderr)
        for loc in exc.field_errors.values():
            for fld, msgs in (loc or {}).items():
                for m in msgs if isinstance(msgs, list) else [msgs]:
                    print(f"  {fld}: {m}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False), file=out)
    else:
        _print_report(report, out)
    return 2 if report.get("refused") else 0


if __name__ == "__main__":
    sys.exit(main())
