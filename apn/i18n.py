"""Translations: one catalogue directory per area under ``apn/translations/<area>/``.

Message ids are English; each area keeps ``<area>/sv/LC_MESSAGES/messages.po``. Flask-Babel merges the
directories. Compiled ``.mo`` files are not kept in git: :func:`compile_catalogs` builds the missing or
outdated ones when the app is created (cheap; skipped silently on a read-only install that has them).
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent / "translations"


def translation_directories() -> list[str]:
    """Every area's catalogue directory."""
    if not ROOT.exists():
        return []
    return [str(p) for p in sorted(ROOT.iterdir()) if p.is_dir()]


def compile_catalogs() -> None:
    """Compile each ``messages.po`` whose ``messages.mo`` is missing or older."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in ROOT.glob("*/*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            with po.open("rb") as f:
                catalog = read_po(f)
            with mo.open("wb") as f:
                write_mo(f, catalog)
        except OSError:
            logger.warning("could not compile %s", po)
