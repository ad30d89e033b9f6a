"""DAK (Digitalt aktivitetskort) 2.1 / 2.2: safe parsing, import through the one intake, schemas.

The XSDs live beside this module (``importSchema-2.1.xsd`` as published, ``importSchema-2.2.xsd`` derived
from it: the Sveriges Föreningssystem namespace and an optional ``StoppDatum`` after ``StoppTid``).
"""

from apn.formats.dak.importer import DakReport, RefusedSession, import_dak
from apn.formats.dak.parser import (
    MAX_DAK_BYTES,
    NS_21,
    NS_22,
    DakFile,
    DakFileError,
    count_dak,
    parse_dak,
    schema,
)

__all__ = [
    "MAX_DAK_BYTES",
    "NS_21",
    "NS_22",
    "DakFile",
    "DakFileError",
    "DakReport",
    "RefusedSession",
    "count_dak",
    "import_dak",
    "parse_dak",
    "schema",
]
