"""Safe parsing of DAK files (Digitalt aktivitetskort, versions 2.1 and 2.2) into plain records.

The file is parsed with lxml with every dangerous feature off (no entity resolution, no DTD loading, no
network, no huge trees) and refused outright when it is too big or declares a DTD: external entities and
entity expansion ("billion laughs") never reach the parser's resolver. It is then validated against the
XSD of its version; each schema error is attached to the smallest part of the file it concerns (a session,
a register entry, an attendance card, an association) so that only that part is refused. Errors outside
every session (the root, ``Kommun``) refuse the whole file, naming the lines.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from lxml import etree

from apn.errors import DomainError

NS_21 = "http://aktivitetskort.net.umea.se/importSchema.xsd"
NS_22 = "http://sverigesforeningssystem.se/importSchema.xsd"
NAMESPACES = (NS_21, NS_22)

#: Largest file accepted (bytes). A club's half-year is a few megabytes; requests are capped at 20 MB.
MAX_DAK_BYTES = 50 * 1024 * 1024

#: How many whole-file schema errors a refusal lists.
MAX_FILE_ERRORS = 20


class DakFileError(DomainError):
    """The file as a whole cannot be read (hostile, not XML, not DAK, broken outside any session); its text
    never holds a personal number (:func:`mask_numbers`)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(mask_numbers(message), field="xml", status=status, location="file")


# --- personal numbers never in a message -----------------------------------------------------------------

#: Characters that may stand between the digits of one number (as :func:`apn.identity.normalise_number`
#: folds them): ``-`` and ``+`` and every dash or minus sign, format characters (zero-width, bidi controls,
#: soft hyphen) and white space other than the plain space; at most this many in a row.
_MAX_JOIN = 3
_MINUS_SIGNS = frozenset("\u2212\u2796\ufe63\uff0d")
#: A number in its usual two parts with a plain space between: ``YYMMDD NNNN`` or ``YYYYMMDD NNNN``.
_SPACED_RE = re.compile(r"(?<![0-9])([0-9]{8}|[0-9]{6}) ([0-9]{4})(?![0-9])")


def _digits_of(ch: str) -> str:
    """The ASCII digits a character stands for (fullwidth, Arabic-Indic, superscript …), or ``""``."""
    if "0" <= ch <= "9":
        return ch
    if ch.isascii():
        return ""
    folded = unicodedata.normalize("NFKC", ch)
    if folded.isascii() and folded.isdigit():
        return folded
    if unicodedata.category(ch) == "Nd":
        return str(unicodedata.decimal(ch))
    return ""


def _joins(ch: str) -> bool:
    """Whether ``ch`` may stand inside one number (a separator or an invisible character)."""
    if ch in "-+" or ch in _MINUS_SIGNS:
        return True
    if ch == " " or ch.isascii():
        return False
    return unicodedata.category(ch) in ("Pd", "Cf", "Zs") or ch.isspace()


def _masked(digits: str) -> str:
    """``YYYYMMDD-****`` for twelve digits that start with a date (a coordination number's day + 60
    included), ``******-****`` for any other run."""
    if len(digits) == 12:
        try:
            day = int(digits[6:8])
            dt.date(int(digits[:4]), int(digits[4:6]), day - 60 if day > 60 else day)
        except ValueError:
            return "******-****"
        return f"{digits[:8]}-****"
    return "******-****"


def mask_numbers(text: str) -> str:
    """``text`` with every run of ten or more digits masked: any digit script, with or without ``-``/``+``,
    dashes or invisible characters between them (a longer run may hold a number too), and ``YYMMDD NNNN``.

    Every message the DAK parser and importer return passes through here: a personal number in a value the
    schema refuses, in a register id (some club systems use it as the id) or anywhere else in the file is
    never echoed into an answer, a page or a log.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if not _digits_of(text[i]):
            out.append(text[i])
            i += 1
            continue
        digits: list[str] = []
        j = end = i
        while j < n:
            d = _digits_of(text[j])
            if d:
                digits.append(d)
                j = end = j + 1
                continue
            k = j
            while k < n and k - j < _MAX_JOIN and _joins(text[k]):
                k += 1
            if k == j or k >= n or not _digits_of(text[k]):
                break
            j = k
        run = "".join(digits)
        out.append(_masked(run) if len(run) >= 10 else text[i:end])
        i = end
    return _SPACED_RE.sub(lambda m: _masked(m.group(1) + m.group(2)) if len(m.group(1)) == 8 else "******-****",
                          "".join(out))


@dataclass
class Mark:
    """One ``Deltagare``/``Ledare`` of a session's attendance list."""

    person_id: str
    line: int
    present: bool
    disability: bool
    temporary_leader: bool = False


@dataclass
class RegisterEntry:
    """One person of ``DeltagarRegister``/``LedarRegister``."""

    person_id: str
    line: int
    first_name: str
    last_name: str
    personnummer: str
    kind: str  # participant | leader
    errors: list[str] = field(default_factory=list)


@dataclass
class Association:
    """A ``Foerening``."""

    line: int
    foerenings_id: str
    name: str | None
    organisationsnummer: str | None
    errors: list[str] = field(default_factory=list)


@dataclass
class Card:
    """A ``Naervarokort`` (attendance card / group)."""

    line: int
    number: int | None
    activity: str
    facility: str
    name: str | None
    association: Association
    errors: list[str] = field(default_factory=list)


@dataclass
class Session:
    """A ``Sammankomst``; values are None when they could not be read (the session then has errors)."""

    line: int
    kod: str | None
    date: dt.date | None
    start: dt.time | None
    stop: dt.time | None
    stop_date: dt.date | None
    activity: str | None
    facility: str | None
    session_type: str | None
    method: str | None
    team_sport: bool
    participants: list[Mark]
    leaders: list[Mark]
    card: Card
    errors: list[str] = field(default_factory=list)

    @property
    def participations(self) -> int:
        """Present participants who did not lead (each register id once)."""
        return sum(1 for m in first_per_id(self.participants) if m.present and not m.temporary_leader)

    @property
    def leader_participations(self) -> int:
        """Present leaders plus present temporary leaders (each register id once per list)."""
        return (sum(1 for m in first_per_id(self.leaders) if m.present)
                + sum(1 for m in first_per_id(self.participants) if m.present and m.temporary_leader))


@dataclass
class DakFile:
    """A parsed DAK file."""

    namespace: str
    version: str
    kommun_id: int | None
    kommun_line: int
    associations: list[Association]
    cards: list[Card]
    sessions: list[Session]
    participants: dict[str, RegisterEntry]
    leaders: dict[str, RegisterEntry]

    def counts(self) -> dict[str, int]:
        """Sessions, participations and leader participations the file holds."""
        return {"sessions": len(self.sessions),
                "participations": sum(s.participations for s in self.sessions),
                "leader_participations": sum(s.leader_participations for s in self.sessions)}


def first_per_id(marks: list[Mark]) -> list[Mark]:
    """The marks with the first of each register id (a person listed twice counts once)."""
    seen: set[str] = set()
    out = []
    for m in marks:
        if m.person_id not in seen:
            seen.add(m.person_id)
            out.append(m)
    return out


# --- schemas --------------------------------------------------------------------------------------------

@cache
def _schema_text(version: str) -> str:
    return resources.files("apn.formats.dak").joinpath(f"importSchema-{version}.xsd").read_text("utf-8")


#: This thread's schema objects. An ``XMLSchema`` keeps the errors of its last ``validate`` in its own
#: ``error_log``, so two threads validating with one object read each other's errors: a valid file refused
#: as "outside any session" (422), an invalid session passed as clean. Each thread compiles its own (1 ms).
_thread_schemas = threading.local()


def schema(version: str, namespace: str | None = None) -> etree.XMLSchema:
    """The XSD of ``version`` ("2.1" or "2.2"), optionally moved into another of the two namespaces; one
    object per thread (its ``error_log`` is this thread's only)."""
    cached: dict = _thread_schemas.__dict__.setdefault("by_key", {})
    xsd = cached.get((version, namespace))
    if xsd is None:
        text = _schema_text(version)
        own = NS_21 if version == "2.1" else NS_22
        if namespace and namespace != own:
            text = text.replace(own, namespace)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        xsd = cached[(version, namespace)] = etree.XMLSchema(etree.fromstring(text.encode("utf-8"), parser))
    return xsd


def schema_for(namespace: str, version: str) -> etree.XMLSchema:
    """The schema a file is checked against.

    A file in the 2.1 namespace saying version 2.1 (or nothing) is checked strictly against 2.1. Every
    other combination (the 2.2 namespace, or ``version="2.2"`` in the 2.1 namespace, which vendors send) is
    checked against the 2.2 structure in the file's namespace.
    """
    if namespace == NS_21 and version in ("", "2.1", "2.10"):
        return schema("2.1")
    return schema("2.2", namespace)


# --- safe parsing ---------------------------------------------------------------------------------------

_DTD_RE = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def parse_xml(xml: bytes, max_bytes: int = MAX_DAK_BYTES) -> etree._ElementTree:
    """Parse untrusted XML: refuse oversized input and any DTD; never resolve entities or fetch anything."""
    if not isinstance(xml, bytes | bytearray):
        raise DakFileError("the DAK file must be sent as bytes")
    if len(xml) > max_bytes:
        raise DakFileError(f"the file is {len(xml):,} bytes; at most {max_bytes:,} bytes are accepted", 413)
    if not xml.strip():
        raise DakFileError("the file is empty")
    if _DTD_RE.search(xml):
        raise DakFileError("the file declares a DTD or entities (<!DOCTYPE>/<!ENTITY>); DAK files must not, "
                           "and such files are refused for safety", 400)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_pis=True, collect_ids=False)
    try:
        root = etree.fromstring(bytes(xml), parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or (exc.position[0] if exc.position else None)
        msg = (exc.msg or str(exc)).strip()
        raise DakFileError(f"line {line}: the file is not well-formed XML: {msg}") from exc
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        # Reached only by encodings the byte check cannot read (e.g. UTF-16).
        raise DakFileError("the file declares a DTD; DAK files must not, and such files are refused for safety",
                           400)
    return tree


# --- reading values -------------------------------------------------------------------------------------

def _local(tag) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""  # comments and PIs have no str tag


def _ns(el) -> str:
    """``{namespace}`` of an element (a DAK file is in one namespace), for lxml's fast C lookups."""
    tag = el.tag
    return tag[:tag.index("}") + 1] if isinstance(tag, str) and tag.startswith("{") else ""


def _child(el, name: str):
    return el.find(_ns(el) + name)


def _children(el, name: str) -> list:
    return el.findall(_ns(el) + name)


def _text(el, name: str) -> str | None:
    value = el.findtext(_ns(el) + name)
    return None if value is None else value.strip()


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    return None


def _time(value: str | None) -> dt.time | None:
    if not value:
        return None
    v = value.strip()
    v = re.sub(r"(Z|[+-]\d{2}:\d{2})$", "", v)
    try:
        return dt.time.fromisoformat(v).replace(microsecond=0, tzinfo=None)
    except ValueError:
        return None


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    v = re.sub(r"(Z|[+-]\d{2}:\d{2})$", "", value.strip())
    try:
        return dt.date.fromisoformat(v)
    except ValueError:
        return None


_NS_RE = re.compile(r"\{[^}]*\}")
_DIGITS_RE = re.compile(r"'[^']*\d{4}[^']*'")


def _clean(message: str) -> str:
    return _NS_RE.sub("", message).strip()


# --- the file -------------------------------------------------------------------------------------------

def parse_dak(xml: bytes, max_bytes: int = MAX_DAK_BYTES) -> DakFile:
    """Parse and schema-check a DAK file; per-part problems are recorded on the part, whole-file ones raise."""
    tree = parse_xml(xml, max_bytes)
    root = tree.getroot()
    qn = etree.QName(root.tag)
    if qn.localname != "Aktivitetskort" or qn.namespace not in NAMESPACES:
        raise DakFileError(f"line {root.sourceline}: not a DAK file: the root element must be Aktivitetskort in "
                           f"the namespace {NS_21} (2.1) or {NS_22} (2.2), not {_clean(str(qn.text))!r}"
                           + (f" in {qn.namespace}" if qn.namespace else " without a namespace"))
    ns = qn.namespace
    kommun = _child(root, "Kommun")
    version = (kommun.get("version") or "").strip() if kommun is not None else ""
    xsd = schema_for(ns, version)

    # Read the parts, leniently.
    kommun_id = None
    if kommun is not None:
        try:
            kommun_id = int((kommun.get("kommunID") or "").strip())
        except ValueError:
            kommun_id = None
    by_element: dict = {}
    associations: list[Association] = []
    cards: list[Card] = []
    sessions: list[Session] = []
    for f_el in _children(kommun, "Foerening") if kommun is not None else []:
        assoc = Association(f_el.sourceline, (f_el.get("foereningsID") or "").strip(),
                            f_el.get("foereningsNamn"), (f_el.get("organisationsnummer") or "").strip() or None)
        associations.append(assoc)
        by_element[f_el] = assoc
        for c_el in _children(f_el, "Naervarokort"):
            try:
                number = int((c_el.get("NaervarokortNummer") or "").strip())
            except ValueError:
                number = None
            card = Card(c_el.sourceline, number, _text(c_el, "Aktivitet") or "", _text(c_el, "Lokal") or "",
                        _text(c_el, "NamnPaaKort") or None, assoc)
            cards.append(card)
            by_element[c_el] = card
            box = _child(c_el, "Sammankomster")
            for s_el in _children(box, "Sammankomst") if box is not None else []:
                s = _read_session(s_el, card)
                sessions.append(s)
                by_element[s_el] = s
    participants: dict[str, RegisterEntry] = {}
    leaders: dict[str, RegisterEntry] = {}
    for reg_name, item, kind, target in (("DeltagarRegister", "Deltagare", "participant", participants),
                                         ("LedarRegister", "Ledare", "leader", leaders)):
        reg = _child(root, reg_name)
        for p_el in _children(reg, item) if reg is not None else []:
            entry = RegisterEntry((p_el.get("id") or "").strip(), p_el.sourceline, _text(p_el, "Foernamn") or "",
                                  _text(p_el, "Efternamn") or "", _text(p_el, "Personnummer") or "", kind)
            by_element[p_el] = entry
            if entry.person_id in target:
                entry.errors.append(mask_numbers(f"line {entry.line}: the id {entry.person_id!r} is in the "
                                                 f"{reg_name} twice (first at line {target[entry.person_id].line})"))
                target[entry.person_id].errors.extend(entry.errors)
                continue
            target[entry.person_id] = entry

    # Attach each schema error to the smallest part that holds it (after the parts are read: the check
    # moves the repeated elements into documents of their own).
    file_errors: list[str] = []
    for err, owner in _schema_errors(tree, xsd, by_element):
        message = mask_numbers(f"line {err.line}: {_clean(err.message)}")
        if isinstance(owner, RegisterEntry):
            message = _DIGITS_RE.sub("'…'", message)  # never echo a personal number
        if owner is None:
            file_errors.append(message)
        else:
            owner.errors.append(message)
    if file_errors:
        shown = "; ".join(file_errors[:MAX_FILE_ERRORS])
        more = f" (and {len(file_errors) - MAX_FILE_ERRORS} more)" if len(file_errors) > MAX_FILE_ERRORS else ""
        raise DakFileError(f"the file does not follow the DAK {version or '2.1'} schema outside any session: "
                           f"{shown}{more}")
    if kommun_id is None:
        raise DakFileError(f"line {kommun.sourceline if kommun is not None else root.sourceline}: "
                           "Kommun@kommunID is missing or not a number")
    return DakFile(ns, version or ("2.1" if ns == NS_21 else "2.2"), kommun_id,
                   kommun.sourceline, associations, cards, sessions, participants, leaders)


# --- the schema check, in pieces ------------------------------------------------------------------------

#: The repeated elements (parent, child) a file is checked in, innermost first. libxml2 writes the path of
#: every error by counting the element's preceding siblings, so checking 100,000 invalid sessions of one list
#: in place takes time quadratic in the list's length. Instead each kind is moved, ``_UNITS_PER_CHECK`` at a
#: time, into a small document beside copies of its ancestors and checked there; errors on the copies are
#: ignored (their originals are checked in their own turn).
_UNIT_PHASES = (
    {("DeltagarLista", "Deltagare"), ("LedarLista", "Ledare")},
    {("Sammankomster", "Sammankomst"), ("DeltagarRegister", "Deltagare"), ("LedarRegister", "Ledare")},
    {("Foerening", "Naervarokort")},
    {("Kommun", "Foerening")},
)
_LIST_ITEMS = set().union(*_UNIT_PHASES)
_UNITS_PER_CHECK = 200
#: Longest text or attribute value kept in the copies of ancestors.
_COPY_TEXT = 100


def _short(value: str | None) -> str | None:
    return value if value is None or len(value) <= _COPY_TEXT else value[:_COPY_TEXT]


def _shallow(el, parent=None):
    """A copy of ``el`` with its attributes and text (shortened), without children."""
    attrib = {k: _short(v) for k, v in el.attrib.items()}
    copy = etree.Element(el.tag, attrib, nsmap=el.nsmap) if parent is None else etree.SubElement(parent, el.tag,
                                                                                               attrib)
    copy.text = _short(el.text)
    return copy


class _CheckDocument:
    """One small document: moved units and copies of the ancestors they need (fields copied, other
    containers empty, list items left out), so the document keeps the schema's shape."""

    def __init__(self, fields: dict) -> None:
        self.copies: dict = {}
        self.fields = fields  # original element -> its children that are not list items (computed once)
        self.root = None

    def add(self, unit) -> None:
        self._copy(unit.getparent()).append(unit)

    def _copy(self, el):
        if el in self.copies:
            return self.copies[el]
        parent = el.getparent()
        parent_copy = None if parent is None else self._copy(parent)
        if el in self.copies:  # made with its parent's fields
            return self.copies[el]
        copy = self.copies[el] = _shallow(el, parent_copy)
        if parent is None:
            self.root = copy
        if el not in self.fields:
            self.fields[el] = [c for c in el if isinstance(c.tag, str)
                               and (_local(el.tag), _local(c.tag)) not in _LIST_ITEMS]
        for child in self.fields[el]:
            self.copies[child] = _shallow(child, copy)
        return copy


def _resolve(doc, path: str | None):
    """The element at an error's path by XPath, or None."""
    if not path:
        return None
    try:
        found = doc.xpath(path)
    except (etree.XPathError, etree.XPathEvalError):
        return None
    return found[0] if found and isinstance(found[0], etree._Element) else None


_STEP_RE = re.compile(r"(?:[\w.-]+:)?([\w.-]+|\*)(?:\[(\d+)\])?")


class _PathIndex:
    """The elements of one document by the paths libxml2 writes into errors (``/*/*[3]/*[12]``), each prefix
    resolved once from its parent's children: linear in the document, unlike an XPath per error."""

    def __init__(self, tree) -> None:
        self.tree = tree
        self.nodes: dict[str, object] = {}
        self.kids: dict[tuple[str, str], list] = {}

    def find(self, path: str | None):
        """The element at ``path``, or None."""
        if not path:
            return None
        if path in self.nodes:
            return self.nodes[path]
        parent_path, _, step = path.rpartition("/")
        m = _STEP_RE.fullmatch(step)
        if m is None:
            node = _resolve(self.tree, path)  # a form this index does not read (text(), attributes, …)
        else:
            name, pos = m.group(1), int(m.group(2) or 1)
            if not parent_path:
                root = self.tree.getroot()
                node = root if pos == 1 and name in ("*", _local(root.tag)) else None
            else:
                parent = self.find(parent_path)
                node = None
                if parent is not None:
                    key = (parent_path, name)
                    if key not in self.kids:
                        self.kids[key] = [c for c in parent if isinstance(c.tag, str)
                                          and (name == "*" or _local(c.tag) == name)]
                    same = self.kids[key]
                    node = same[pos - 1] if 0 < pos <= len(same) else None
        self.nodes[path] = node
        return node


def _schema_errors(tree, xsd: etree.XMLSchema, by_element: dict) -> list:
    """``(error, owner)`` for every schema error of the file, in time linear in the file's size.

    ``owner`` is the part of ``by_element`` that holds the error (the element or its nearest ancestor that is
    a part), or None outside every part. Identity constraints (register ids referenced from the attendance
    lists, ids unique in a register) need the whole file in one document: the reader and the importer check
    them instead. Leaves ``tree`` taken apart (the parts are read before).
    """
    root = tree.getroot()
    kommun = root.find(_ns(root) + "Kommun")
    first_foerening = kommun.find(_ns(root) + "Foerening") if kommun is not None else None
    out: list = []
    fields: dict = {}

    def owner_of(el):
        while el is not None:
            if el in by_element:
                return by_element[el]
            el = el.getparent()
        return None

    for phase in _UNIT_PHASES:
        ns = _ns(root)
        units = [el for el in root.iter(*{ns + child for _, child in phase})
                 if el.getparent() is not None and (_local(el.getparent().tag), _local(el.tag)) in phase]
        for start in range(0, len(units), _UNITS_PER_CHECK):
            chunk = units[start:start + _UNITS_PER_CHECK]
            owners = {u: owner_of(u) for u in chunk}
            doc = _CheckDocument(fields)
            for unit in chunk:
                doc.add(unit)
            xsd.validate(doc.root)
            paths = _PathIndex(doc.root.getroottree())
            for err in xsd.error_log:
                if err.type_name.startswith("SCHEMAV_CVC_IDC"):
                    continue
                node = paths.find(err.path)
                while node is not None and node not in owners:
                    node = node.getparent()
                if node is not None:
                    out.append((err, owners[node]))
    # What is left: the root, Kommun and the emptied containers; Kommun gets a copy of a Foerening back,
    # its required child.
    stand_in = _shallow(first_foerening, kommun) if first_foerening is not None else None
    xsd.validate(tree)
    paths = _PathIndex(tree)
    for err in xsd.error_log:
        node = paths.find(err.path)
        if stand_in is not None and node is stand_in:
            continue
        out.append((err, owner_of(node)))
    return out


def _read_marks(s_el, list_name: str, item: str, participant: bool) -> list[Mark]:
    box = _child(s_el, list_name)
    out = []
    if box is None:
        return out
    ns = _ns(box)
    present, disability, temp_leader = ns + "Naervarande", ns + "Handikapp", ns + "TillfaelligLedare"
    for m_el in box.iterchildren(ns + item):
        temp = False
        if participant:
            temp = bool(_bool(m_el.findtext(temp_leader)) or _bool(m_el.get("tillfaelligLedare")))
        out.append(Mark((m_el.get("id") or "").strip(), m_el.sourceline, bool(_bool(m_el.findtext(present))),
                        bool(_bool(m_el.findtext(disability))), temp))
    return out


def _read_session(s_el, card: Card) -> Session:
    values: dict[str, str] = {}
    for child in s_el:  # one pass over the children (the first of each name counts, as with find)
        name = _local(child.tag)
        if name and name not in values:
            values[name] = (child.text or "").strip()
    method = values.get("Metod")
    return Session(
        line=s_el.sourceline,
        kod=(s_el.get("kod") or "").strip() or None,
        date=_date(s_el.get("Datum")),
        start=_time(values.get("StartTid")),
        stop=_time(values.get("StoppTid")),
        stop_date=_date(values.get("StoppDatum")),
        activity=values.get("Aktivitet"),
        facility=values.get("Lokal"),
        session_type=values.get("Typ"),
        method=method.lower() if method else None,
        team_sport=bool(_bool(values.get("Lagidrott"))),
        participants=_read_marks(s_el, "DeltagarLista", "Deltagare", True),
        leaders=_read_marks(s_el, "LedarLista", "Ledare", False),
        card=card,
    )


def count_dak(xml: bytes) -> dict[str, int]:
    """Sessions, participations and leader participations a DAK file holds (parsed safely, nothing stored)."""
    return parse_dak(xml).counts()
