"""The deterministic demo data set, also the benchmark data generator (``scale``).

Two steps, kept apart so the first can be tested without a database:

1. :func:`plan_demo` builds a :class:`DemoPlan` from a seed, a scale and a year: municipalities, home areas,
   facilities, associations, groups with weekly slots, people with valid personal numbers, rosters and the
   planned clashes and rule-breaking sessions. :func:`session_stream` turns a tenant's plan into its year of
   sessions lazily, group by group, merged in date order, so memory stays bounded at any scale. Every random
   choice comes from a ``random.Random`` seeded with a string derived from the seed: the same seed, scale
   and year give the same data.
2. :func:`load_demo` writes the plan: reference data set-based, users and role grants, and every session
   through the one intake (:func:`apn.intake.ingest`) in batches, committing after each batch.

Scale 1.0 is about 40 associations, 100 groups, 3,000 people, 20,000 sessions and 250,000 participations;
scale 8 is about 2,000,000 participations (benchmarks, see ``bench/datagen.py``).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import random
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from apn.identity import luhn_digit

DEFAULT_SEED = 2480
#: The one documented password of every demo login.
DEMO_PASSWORD = "demo-apn-2025"
#: Participations per unit of scale (measured; used by the benchmark generator to pick a scale).
PARTICIPATIONS_PER_SCALE = 250_000
BATCH_SIZE = 1000

BASE_ASSOCIATIONS = 40
BASE_GROUPS = 100
BASE_PEOPLE = 3000

# Rates of the things the rules should reject or the clash check should find, per session.
CANCEL_RATE = 0.03
SHORT_RATE = 0.012
FEW_RATE = 0.012
NO_LEADER_RATE = 0.012
TEMP_LEADER_RATE = 0.01
NO_PNR_SHARE = 0.012
COORDINATION_SHARE = 0.01


# --- static reference data ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TenantSpec:
    """A demo municipality: identity, share of the data set and its places."""

    slug: str
    name: str
    kommunkod: str
    preset: str
    share: float
    city: str
    postcode: str
    sportlov_week: int
    #: (name, latitude, longitude, weight): home areas, RegSO-like.
    areas: tuple[tuple[str, float, float, int], ...]
    #: (name, kind, area name): facilities; kind is hall, field, pool, ice or room.
    facilities: tuple[tuple[str, str, str], ...]
    extra_last_names: tuple[str, ...] = ()


TENANTS: tuple[TenantSpec, ...] = (
    TenantSpec(
        "umea", "Umeå kommun", "2480", "lok-2023", 0.6, "Umeå", "90", 10,
        areas=(
            ("Centrum", 63.8256, 20.2630, 8), ("Haga", 63.8330, 20.2760, 6), ("Öst på stan", 63.8285, 20.2870, 5),
            ("Väst på stan", 63.8230, 20.2470, 5), ("Ålidhem", 63.8175, 20.3000, 7), ("Mariehem", 63.8300, 20.3200, 7),
            ("Ersboda", 63.8490, 20.3080, 7), ("Tomtebo", 63.8230, 20.3500, 5), ("Teg", 63.8150, 20.2600, 7),
            ("Sandåkern", 63.8390, 20.2470, 4), ("Carlshem", 63.8370, 20.2950, 4), ("Holmsund", 63.7070, 20.3600, 5),
            ("Obbola", 63.7000, 20.3200, 2), ("Sävar", 63.8990, 20.5500, 3), ("Hörnefors", 63.6280, 19.9030, 3),
            ("Röbäck", 63.8060, 20.1930, 2), ("Ersmark", 63.8750, 20.2750, 2), ("Backen", 63.8450, 20.2000, 3),
            ("Innertavle", 63.8200, 20.4300, 2), ("Grubbe", 63.8400, 20.2250, 3),
        ),
        facilities=(
            ("IKSU sport", "hall", "Ålidhem"), ("Gammliavallen", "field", "Öst på stan"),
            ("Navet simhall", "pool", "Centrum"), ("T3 Arena", "ice", "Teg"),
            ("Ersboda sporthall", "hall", "Ersboda"), ("Mariehemshallen", "hall", "Mariehem"),
            ("Tomteboskolans idrottshall", "hall", "Tomtebo"), ("Tegs sporthall", "hall", "Teg"),
            ("Sandåkerns IP", "field", "Sandåkern"), ("Holmsunds sporthall", "hall", "Holmsund"),
            ("Holmsunds IP", "field", "Holmsund"), ("Sävar sporthall", "hall", "Sävar"),
            ("Hörnefors sporthall", "hall", "Hörnefors"), ("Folkets Hus Umeå", "room", "Centrum"),
            ("Scoutstugan Röbäck", "room", "Röbäck"), ("Ålidhems fritidsgård", "room", "Ålidhem"),
            ("Carlshems konstgräs", "field", "Carlshem"), ("Grubbe ishall", "ice", "Grubbe"),
        ),
        extra_last_names=("Lundmark", "Marklund", "Burman", "Öhman", "Stenlund", "Nordlund", "Lindmark",
                          "Holmström", "Granberg", "Renström", "Hörnqvist", "Sehlstedt"),
    ),
    TenantSpec(
        "kungsbacka", "Kungsbacka kommun", "1384", "kungsbacka-2023", 0.4, "Kungsbacka", "434", 7,
        areas=(
            ("Centrum", 57.4875, 12.0760, 7), ("Kolla", 57.4960, 12.0650, 5), ("Hede", 57.5010, 12.0700, 3),
            ("Tölö", 57.5020, 12.1010, 5), ("Vallda", 57.4830, 12.0200, 4), ("Onsala", 57.4150, 11.9950, 7),
            ("Kullavik", 57.5500, 11.9400, 4), ("Särö", 57.5090, 11.9370, 3), ("Fjärås", 57.4500, 12.1700, 4),
            ("Åsa", 57.3500, 12.1200, 4), ("Frillesås", 57.3190, 12.1640, 3), ("Gällinge", 57.3870, 12.2170, 2),
            ("Anneberg", 57.5320, 12.1030, 3), ("Älvsåker", 57.4470, 12.1330, 2), ("Hanhals", 57.4700, 11.9950, 2),
        ),
        facilities=(
            ("Kungsbacka simhall", "pool", "Centrum"), ("Tingbergshallen", "hall", "Centrum"),
            ("Inlag IP", "field", "Kolla"), ("Kungsbacka ishall", "ice", "Hede"), ("Kollahallen", "hall", "Kolla"),
            ("Onsala sporthall", "hall", "Onsala"), ("Onsala IP", "field", "Onsala"), ("Åsa sporthall", "hall", "Åsa"),
            ("Frillesås sporthall", "hall", "Frillesås"), ("Fjärås sporthall", "hall", "Fjärås"),
            ("Vallda sporthall", "hall", "Vallda"), ("Särö IP", "field", "Särö"),
            ("Kullaviks idrottshall", "hall", "Kullavik"), ("Fyren fritidsgård", "room", "Centrum"),
            ("Scoutgården Tölö", "room", "Tölö"),
        ),
        extra_last_names=("Bengtsson", "Åkesson", "Mårtensson", "Pålsson", "Svensson", "Johansson", "Kristensson",
                          "Hallberg", "Strand"),
    ),
)

GIRLS = ("Alice", "Maja", "Elsa", "Astrid", "Wilma", "Freja", "Olivia", "Selma", "Alma", "Ebba", "Vera", "Ella",
         "Saga", "Agnes", "Signe", "Clara", "Ellen", "Stella", "Elvira", "Julia", "Nova", "Lilly", "Juni", "Ines",
         "Tyra", "Majken", "Ester", "Sigrid", "Lea", "Emma", "Hanna", "Moa", "Ida", "Linnea", "Matilda", "Tilda",
         "Isabelle", "Felicia", "Nellie", "Amanda", "Sara", "Fatima", "Amina", "Noor", "Leyla", "Hiba", "Zainab",
         "Sofia", "Lova", "Meja", "Iris", "Thea", "Edith", "Mira")
BOYS = ("William", "Noah", "Hugo", "Liam", "Lucas", "Oscar", "Elias", "Oliver", "Matteo", "Adam", "Vincent",
        "Alexander", "Nils", "Theo", "Leo", "Ludvig", "Arvid", "Harry", "Charlie", "Axel", "Elton", "Frans", "Malte",
        "Viggo", "Isak", "Melvin", "Sixten", "Otto", "Edvin", "Filip", "Emil", "Anton", "Viktor", "Albin",
        "Jonathan", "Gustav", "Olle", "Sam", "Hampus", "Ali", "Mohammed", "Omar", "Yusuf", "Amir", "Ibrahim",
        "Elliot", "Love", "Ture", "Colin", "Valter", "Melker")
WOMEN = ("Anna", "Maria", "Karin", "Sara", "Eva", "Lena", "Kristina", "Emma", "Elin", "Johanna", "Malin", "Sofia",
         "Linda", "Camilla", "Jenny", "Helena", "Annika", "Susanne", "Åsa", "Ulrika", "Frida", "Therese", "Jessica",
         "Cecilia", "Marie", "Birgitta", "Ingrid", "Margareta", "Monica", "Anneli", "Petra", "Jennie", "Sanna",
         "Mikaela", "Lisa", "Hanna", "Amira", "Fatima", "Gunilla", "Kerstin")
MEN = ("Lars", "Anders", "Johan", "Per", "Mikael", "Erik", "Karl", "Peter", "Thomas", "Jan", "Daniel", "Fredrik",
       "Andreas", "Magnus", "Stefan", "Mattias", "Jonas", "Niklas", "Martin", "Henrik", "Marcus", "Patrik",
       "Tobias", "Mats", "Björn", "Ulf", "Håkan", "Göran", "Christer", "Joakim", "Robert", "Oskar", "David",
       "Simon", "Jimmy", "Ahmed", "Hassan", "Mehmet", "Leif", "Kjell")
LAST_NAMES = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
              "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Jönsson",
              "Lindberg", "Jakobsson", "Magnusson", "Olofsson", "Lindström", "Lindqvist", "Lindgren", "Berg",
              "Axelsson", "Bergström", "Lundberg", "Lind", "Lundgren", "Lundqvist", "Mattsson", "Berglund",
              "Fredriksson", "Sandberg", "Henriksson", "Forsberg", "Sjöberg", "Ali", "Wallin", "Mohammed",
              "Engström", "Eklund", "Danielsson", "Lundin", "Håkansson", "Björk", "Bergman", "Gunnarsson", "Holm",
              "Wikström", "Samuelsson", "Isaksson", "Fransson", "Bergqvist", "Nyström", "Holmberg", "Arvidsson",
              "Löfgren", "Söderberg", "Nyberg", "Blomqvist", "Claesson", "Nordström", "Ahmed", "Mårtensson",
              "Lundström", "Hassan", "Viklund", "Björklund", "Eliasson", "Berggren", "Sandström", "Nordin",
              "Ström", "Åberg", "Falk", "Ekström", "Hermansson", "Holmgren", "Hellström", "Dahlberg", "Hedlund",
              "Sundberg", "Sjögren", "Ek", "Blom", "Abrahamsson", "Martinsson", "Öberg", "Andreasson", "Strömberg",
              "Månsson", "Yilmaz", "Nguyen", "Kaya", "Dahl", "Lindholm", "Norberg", "Holmqvist")
STREETS = ("Idrottsvägen", "Skolgatan", "Sportvägen", "Parkvägen", "Storgatan", "Badhusgatan", "Björkvägen",
           "Hallvägen", "Föreningsgatan", "Kyrkogatan")


@dataclass(frozen=True)
class Kind:
    """A kind of association and the groups it runs."""

    activity: str
    facility: str  # facility kind
    #: Association name templates: ``{a}`` the place, ``{g}`` its genitive.
    names: tuple[str, ...]
    #: Team sports: the age range of youth teams (one or two birth years per team, boys or girls).
    team_ages: tuple[int, int] | None = None
    #: Other groups: (label, min age, max age).
    labels: tuple[tuple[str, int, int], ...] = ()
    slots: tuple[int, int] = (3, 5)
    minutes: tuple[int, ...] = (60, 75, 90)
    starts: tuple[int, ...] = (17 * 60, 17 * 60 + 30, 18 * 60, 18 * 60 + 30, 19 * 60)
    size: tuple[int, int] = (10, 16)
    indoor: bool = True
    match: bool = False
    session_type: str = "Traening"
    disability: bool = False
    weight: int = 1


def _t(h: int, m: int = 0) -> int:
    """Minutes after midnight."""
    return h * 60 + m


KINDS: dict[str, Kind] = {
    "fotboll": Kind("Fotboll", "field", ("{g} IF", "{a} FF", "IFK {a}", "{g} BK", "{a} Fotbollsklubb"),
                    team_ages=(7, 19), slots=(4, 6), minutes=(75, 90, 90), size=(12, 18), indoor=False,
                    match=True, weight=6),
    "innebandy": Kind("Innebandy", "hall", ("{a} IBK", "{g} Innebandyklubb", "IBK {a}"), team_ages=(8, 19),
                      slots=(4, 6), minutes=(60, 75, 90), size=(11, 16), match=True, weight=4),
    "handboll": Kind("Handboll", "hall", ("{a} HK", "{g} Handbollsklubb"), team_ages=(9, 19), slots=(4, 6),
                     minutes=(75, 90), size=(9, 14), match=True, weight=2),
    "basket": Kind("Basket", "hall", ("{a} Basket", "{g} BBK"), team_ages=(9, 19), slots=(4, 5),
                   minutes=(75, 90), size=(8, 12), match=True, weight=2),
    "ishockey": Kind("Ishockey", "ice", ("{a} Hockey", "{g} HC"), team_ages=(7, 19), slots=(4, 6),
                     minutes=(60, 75), starts=(_t(16, 30), _t(17, 15), _t(18), _t(19)), size=(12, 18),
                     match=True, weight=2),
    "simning": Kind("Simning", "pool", ("{g} Simsällskap", "{a} SS", "Simklubben {a}"),
                    labels=(("Simskola Pingvin", 6, 8), ("Simskola Sjöhäst", 8, 10), ("Tävlingsgrupp", 11, 18),
                            ("Vuxencrawl", 25, 55)),
                    slots=(4, 7), minutes=(45, 60, 60, 90), size=(8, 14), weight=2),
    "gymnastik": Kind("Gymnastik", "hall", ("{g} Gymnastikförening", "{a} GF", "Gymnastikklubben {a}"),
                      labels=(("Knattegympa", 5, 6), ("Barngympa", 7, 9), ("Truppgymnastik", 10, 15),
                              ("Parkour", 12, 19), ("Seniorgympa", 65, 70)),
                      slots=(3, 6), minutes=(45, 60, 90), size=(10, 16), weight=2),
    "judo": Kind("Judo", "hall", ("{g} Judoklubb", "Judoklubben {a}"),
                 labels=(("Barn", 7, 11), ("Ungdom", 12, 17), ("Juniorer", 15, 20), ("Vuxna", 21, 50)),
                 slots=(3, 5), minutes=(60, 75, 90), size=(8, 14), weight=1),
    "taekwondo": Kind("Taekwondo", "hall", ("{a} Taekwondo", "{g} Taekwondoklubb"),
                      labels=(("Barn", 7, 11), ("Ungdom", 12, 17), ("Vuxna", 21, 50)),
                      slots=(3, 5), minutes=(60, 90), size=(8, 14), weight=1),
    "dans": Kind("Dans", "hall", ("Dansföreningen {a}", "{g} Dansklubb"),
                 labels=(("Street", 10, 15), ("Balett", 7, 12), ("Showdans", 13, 19), ("Lindy hop vuxna", 25, 60)),
                 slots=(3, 5), minutes=(60, 75, 90), size=(8, 16), weight=2),
    "friidrott": Kind("Friidrott", "field", ("{g} Friidrottsklubb", "{a} FIK"),
                      labels=(("Friidrottsskola", 8, 11), ("Ungdom", 12, 15), ("Juniorer", 16, 19)),
                      slots=(4, 5), minutes=(75, 90), size=(8, 14), indoor=False, weight=1),
    "scout": Kind("Scouting", "room", ("{a} Scoutkår", "Scoutkåren {a}"),
                  labels=(("Spårare", 8, 10), ("Upptäckare", 10, 12), ("Äventyrare", 12, 15), ("Utmanare", 15, 18),
                          ("Rover", 19, 25)),
                  slots=(2, 4), minutes=(90, 120), starts=(_t(18), _t(18, 30)), size=(8, 14), session_type="Moete",
                  weight=2),
    "ungdom": Kind("Fritid", "room", ("Ungdomens hus {a}", "{g} Ungdomsförening"),
                   labels=(("Spelkväll", 13, 19), ("Ungdomsråd", 15, 25), ("Musikgrupp", 13, 20)),
                   slots=(3, 4), minutes=(120, 150, 180), starts=(_t(18), _t(19)), size=(8, 16),
                   session_type="Oevrigt", weight=1),
    "parasport": Kind("Parasport", "hall", ("{g} Parasportförening", "{a} HIF", "Parasport {a}"),
                      labels=(("Parasport innebandy", 10, 40), ("Bad och träning", 7, 60), ("Boccia", 15, 65)),
                      slots=(3, 4), minutes=(60, 90), size=(6, 10), disability=True, weight=1),
    "senior": Kind("Motion", "hall", ("SPF Seniorerna {a}", "PRO {a} motion"),
                   labels=(("Seniorgympa", 65, 70), ("Stavgång", 65, 70)),
                   slots=(2, 3), minutes=(60,), starts=(_t(10), _t(13)), size=(10, 16), weight=1),
}

#: The groups of a midnight-football association.
NIGHT = Kind("Fotboll", "hall", ("Nattfotboll {a}",), labels=(("Nattfotboll", 15, 20),), slots=(1, 1),
             minutes=(150,), starts=(_t(22),), size=(14, 22))


# --- the plan -------------------------------------------------------------------------------------------

@dataclass
class Area:
    """A home area (RegSO-like code, name, version)."""

    code: str
    name: str
    version: str
    lat: float
    lon: float


@dataclass
class FacilityPlan:
    """A facility in a home area with coordinates."""

    name: str
    kind: str
    area: int
    address: str
    lat: Decimal
    lon: Decimal


@dataclass
class AssociationPlan:
    """An association: identity, payout account and how it reports (``api``/``dak`` partner or web/app)."""

    name: str
    orgnr: str
    kind: str
    payout_method: str
    payout_account: str
    disability: bool
    partner: str | None
    contact_name: str
    contact_email: str


@dataclass(frozen=True)
class Slot:
    """A weekly occasion of a group: weekday (0 = Monday), start minute of the day, duration, type."""

    weekday: int
    start: int
    minutes: int
    session_type: str
    facility: int


@dataclass
class GroupPlan:
    """A group (attendance card) with its weekly slots and roster."""

    association: int
    name: str
    activity: str
    facility: int
    slots: list[Slot]
    min_age: int
    max_age: int
    sex: str | None
    team_sport: bool
    indoor: bool
    size: int
    #: (person index, probability of being present at a session).
    members: list[tuple[int, float]] = field(default_factory=list)
    leaders: list[int] = field(default_factory=list)
    #: Planned scenarios by date: ``present`` / ``leaders`` (person indexes forced present), ``double``
    #: (report twice through two channels), ``anomaly`` (short, few, no_leader).
    forced: dict[dt.date, dict] = field(default_factory=dict)
    #: Extra sessions planned to clash with another group's session.
    extras: list[SessionPlan] = field(default_factory=list)


@dataclass
class PersonPlan:
    """A person: name, birth date, sex, personal number (or none), home area, disability."""

    first_name: str
    last_name: str
    birth_date: dt.date
    sex: str
    pnr: str | None
    coordination: bool
    area: int
    disabled: bool


@dataclass
class SessionPlan:
    """One session to report: who, when, where, through which channel."""

    group: int
    date: dt.date
    start: int
    minutes: int
    session_type: str
    facility: int
    channel: str
    partner_code: str | None
    #: (person index, role, present, disability)
    marks: list[tuple[int, str, bool, bool]]
    kind: str = "regular"  # regular | clash | leader_clash | double

    def sort_key(self) -> tuple:
        """Date order across groups, stable."""
        return (self.date, self.start, self.group, self.partner_code or "", self.channel)


@dataclass
class TenantPlan:
    """Everything planned for one municipality."""

    spec: TenantSpec
    areas: list[Area]
    facilities: list[FacilityPlan]
    associations: list[AssociationPlan]
    groups: list[GroupPlan]
    people: list[PersonPlan]
    #: Probability that a regular weekly occasion is reported at all (below 1 only at small scales).
    keep: float


@dataclass
class DemoPlan:
    """The whole data set before it is written."""

    seed: int
    scale: float
    year: int
    tenants: list[TenantPlan]


def _rng(seed: int, *parts: object) -> random.Random:
    """A generator seeded from the seed and a path; independent of PYTHONHASHSEED."""
    return random.Random(":".join(str(p) for p in (seed, *parts)))


def genitive(name: str) -> str:
    """Swedish genitive of a place name (Holmsund → Holmsunds, Onsala → Onsalas, Åsa → Åsas)."""
    return name if name.endswith(("s", "x", "z")) else name + "s"


def make_orgnr(rng: random.Random, taken: set[str]) -> str:
    """A valid, unused organisation number of a non-profit association (starts with 802)."""
    while True:
        nine = f"802{rng.randrange(1_000_000):06d}"
        num = nine + luhn_digit(nine)
        if num not in taken:
            taken.add(num)
            return num


def make_personnummer(birth: dt.date, sex: str, rng: random.Random, coordination: bool = False) -> str:
    """A valid 12-digit personal (or coordination) number for a birth date and sex (F/M)."""
    serial = rng.randrange(100)
    sex_digit = rng.randrange(5) * 2 + (1 if sex == "M" else 0)
    day = birth.day + (60 if coordination else 0)
    nine = f"{birth:%y%m}{day:02d}{serial:02d}{sex_digit}"
    return f"{birth.year // 100:02d}{nine}{luhn_digit(nine)}"


def _payout(rng: random.Random) -> tuple[str, str]:
    """A payout method and account: Bankgiro or Plusgiro with check digit, or clearing + account."""
    r = rng.random()
    if r < 0.7:
        body = f"{rng.randrange(100_000, 9_999_999):07d}"[: rng.choice((6, 7))]
        return "bankgiro", body + luhn_digit(body)
    if r < 0.85:
        body = str(rng.randrange(10_000, 9_999_999))
        return "plusgiro", body + luhn_digit(body)
    clearing, length = rng.choice((("6" + f"{rng.randrange(1000):03d}", 9), ("5" + f"{rng.randrange(1000):03d}", 7),
                                   ("8" + f"{rng.randrange(10000):04d}", 10)))
    return "bank", clearing + "".join(str(rng.randrange(10)) for _ in range(length))


def _overlaps(a: list[Slot], b: list[Slot]) -> bool:
    """Whether two weekly schedules have an occasion at the same time."""
    for x in a:
        for y in b:
            if x.weekday == y.weekday and x.start < y.start + y.minutes and y.start < x.start + x.minutes:
                return True
    return False


def _first_name(rng: random.Random, sex: str, birth_year: int) -> str:
    """A first name common for the sex and generation."""
    young = birth_year >= 2000
    if sex == "F":
        return rng.choice(GIRLS if young else WOMEN)
    return rng.choice(BOYS if young else MEN)


def _last_name(rng: random.Random, spec: TenantSpec) -> str:
    """A last name: the most common ones most often, some regional."""
    r = rng.random()
    if r < 0.45:
        return rng.choice(LAST_NAMES[:20])
    if r < 0.55 and spec.extra_last_names:
        return rng.choice(spec.extra_last_names)
    return rng.choice(LAST_NAMES)


def _weekly_slots(rng: random.Random, kind: Kind, facilities: list[FacilityPlan], main: int,
                  single_night: bool) -> list[Slot]:
    """A group's weekly occasions on distinct weekdays (a weekend match for team sports)."""
    if single_night:
        return [Slot(4, _t(22), 150, "Traening", main)]
    count = rng.randint(*kind.slots)
    days: list[int] = []
    if kind.match:
        days.append(rng.choice((5, 6)))
    pool = [0, 1, 2, 3, 4, 0, 1, 2, 3, 5, 6]
    while len(days) < count:
        d = rng.choice(pool)
        if d not in days:
            days.append(d)
        if len(days) < count and len(set(pool) - set(days)) == 0:
            break
    slots = []
    same_kind = [i for i, f in enumerate(facilities) if f.kind == kind.facility]
    for d in sorted(days):
        if d >= 5 and kind.match:
            fac = rng.choice(same_kind) if same_kind else main
            slots.append(Slot(d, rng.choice((_t(9), _t(10, 30), _t(12), _t(14))), rng.choice((60, 90, 105)),
                              "Match", fac))
        else:
            start = rng.choice(kind.starts)
            slots.append(Slot(d, start, rng.choice(kind.minutes), kind.session_type, main))
    return slots


def plan_demo(scale: float = 1.0, seed: int = DEFAULT_SEED, year: int | None = None) -> DemoPlan:
    """Plan the demo data set (pure: no database, no app). Same arguments → same plan."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    year = year if year is not None else dt.date.today().year - 1
    tenants = [_plan_tenant(spec, scale, seed, year) for spec in TENANTS]
    return DemoPlan(seed, scale, year, tenants)


def _plan_tenant(spec: TenantSpec, scale: float, seed: int, year: int) -> TenantPlan:
    """Plan one municipality: places, associations, groups, people, scenarios."""
    rng = _rng(seed, spec.slug, "static")
    areas = [Area(f"{spec.kommunkod}R{i + 1:03d}", name, "RegSO 2025", lat, lon)
             for i, (name, lat, lon, _w) in enumerate(spec.areas)]
    area_index = {a.name: i for i, a in enumerate(areas)}
    area_weights = [w for *_, w in spec.areas]

    facilities: list[FacilityPlan] = []
    for name, kind, area_name in spec.facilities:
        a = areas[area_index[area_name]]
        lat = Decimal(f"{a.lat + rng.uniform(-0.006, 0.006):.6f}")
        lon = Decimal(f"{a.lon + rng.uniform(-0.01, 0.01):.6f}")
        address = f"{rng.choice(STREETS)} {rng.randint(1, 40)}, {spec.postcode}{rng.randint(100, 999)} {spec.city}"
        facilities.append(FacilityPlan(name, kind, area_index[area_name], address, lat, lon))

    n_assoc = max(3, round(BASE_ASSOCIATIONS * spec.share * scale))
    n_groups = max(6, round(BASE_GROUPS * spec.share * scale), n_assoc + 3)
    n_people = max(10 * n_groups, round(BASE_PEOPLE * spec.share * scale))
    natural_groups = BASE_GROUPS * spec.share * scale
    keep = min(1.0, natural_groups / n_groups)

    # Associations: three fixed ones (a multi-sport club that also runs midnight football, a gymnastics
    # association reporting through a partner's API, a disability association reporting DAK files),
    # then kinds drawn by weight; about one in five of those reports through a partner system.
    orgnrs: set[str] = set()
    names: set[str] = set()
    assoc_kinds: list[tuple[str, str | None, bool]] = [("fotboll", None, False), ("gymnastik", "api", False),
                                                       ("parasport", "dak", True)]
    kind_keys = list(KINDS)
    kind_weights = [KINDS[k].weight for k in kind_keys]
    while len(assoc_kinds) < n_assoc:
        k = rng.choices(kind_keys, kind_weights)[0]
        partner = rng.choice(("api", "api", "dak")) if rng.random() < 0.2 else None
        assoc_kinds.append((k, partner, KINDS[k].disability))

    associations: list[AssociationPlan] = []
    for i, (k, partner, disability) in enumerate(assoc_kinds):
        kind = KINDS[k]
        for attempt in itertools.count():
            place = rng.choice(areas).name if attempt < 20 or rng.random() < 0.5 else spec.city
            if rng.random() < 0.25:
                place = spec.city
            template = rng.choice(kind.names)
            name = template.format(a=place, g=genitive(place))
            if i == 0:
                name = f"{genitive(spec.city)} Sportklubb"
            if attempt > 40:
                name = f"{name} {attempt - 39}"
            if name not in names:
                names.add(name)
                break
        method, account = _payout(rng)
        cf = rng.choice(("F", "M"))
        contact_first = _first_name(rng, cf, 1970)
        contact_last = _last_name(rng, spec)
        associations.append(AssociationPlan(
            name=name, orgnr=make_orgnr(rng, orgnrs), kind=k, payout_method=method, payout_account=account,
            disability=disability, partner=partner, contact_name=f"{contact_first} {contact_last}",
            contact_email=f"kansli{i + 1}@{spec.slug}-forening.demo"))

    groups = _plan_groups(rng, spec, year, associations, facilities, n_groups)
    people = _plan_people(rng, spec, year, groups, areas, area_weights, facilities, n_people)
    tp = TenantPlan(spec, areas, facilities, associations, groups, people, keep)
    _plan_scenarios(rng, tp, year)
    return tp


def _plan_groups(rng: random.Random, spec: TenantSpec, year: int, associations: list[AssociationPlan],
                 facilities: list[FacilityPlan], n_groups: int) -> list[GroupPlan]:
    """Fixed groups first (a boys' football team, girls' floorball, midnight football, under-age gymnastics,
    seniors, para sport), then one group for every other association, then the rest by weight."""
    owners: list[tuple[int, str | None]] = [(0, "team"), (0, "innebandy"), (0, "night"), (1, "Knattegympa"),
                                            (1, "Seniorgympa"), (2, None)]
    for i in range(3, len(associations)):
        owners.append((i, None))
    while len(owners) < n_groups:
        owners.append((rng.randrange(len(associations)), None))

    used_names: set[tuple[int, str]] = set()
    groups: list[GroupPlan] = []
    for ai, hint in owners:
        assoc = associations[ai]
        kind = KINDS[assoc.kind]
        night = hint == "night"
        if night:
            kind = NIGHT
        if hint == "innebandy":
            kind = KINDS["innebandy"]
        by_kind = [i for i, f in enumerate(facilities) if f.kind == kind.facility] or list(range(len(facilities)))
        main = rng.choice(by_kind)
        sex: str | None = None
        team = kind.team_ages is not None
        if team:
            sex = "M" if hint == "team" else ("F" if hint == "innebandy" else rng.choice(("M", "F")))
            lo_age, hi_age = kind.team_ages  # type: ignore[misc]
            age = rng.randint(lo_age, hi_age)
            if hint == "team":
                age = 12
            if hint == "innebandy":
                age = 10
            width = rng.choice((1, 1, 2))
            min_age, max_age = age, min(hi_age, age + width - 1)
            born_hi = year - min_age
            born = f"{born_hi % 100:02d}" if min_age == max_age else f"{(year - max_age) % 100:02d}/{born_hi % 100:02d}"
            name = f"{'P' if sex == 'M' else 'F'}{born} {kind.activity.lower()}"
        else:
            options = list(kind.labels)
            if hint and not night:
                options = [o for o in options if o[0] == hint] or options
            name, min_age, max_age = rng.choice(options)
        base = name
        n = 2
        while (ai, name) in used_names:
            name = f"{base} {n}"
            n += 1
        used_names.add((ai, name))
        slots = _weekly_slots(rng, kind, facilities, main, night)
        groups.append(GroupPlan(
            association=ai, name=name, activity=kind.activity, facility=main, slots=slots, min_age=min_age,
            max_age=max_age, sex=sex, team_sport=team or night, indoor=kind.indoor,
            size=rng.randint(*kind.size)))
    return groups


def _plan_people(rng: random.Random, spec: TenantSpec, year: int, groups: list[GroupPlan], areas: list[Area],
                 area_weights: list[int], facilities: list[FacilityPlan], n_people: int) -> list[PersonPlan]:
    """People and rosters: leaders first, then participants; about one in ten rostered twice."""
    people: list[PersonPlan] = []
    pnrs: set[str] = set()
    no_pnr_keys: set[tuple[str, str, dt.date]] = set()
    schedule: dict[int, list[list[Slot]]] = {}  # person → schedules of the groups they are in
    by_birth_year: dict[int, list[int]] = {}
    disability_groups = {gi for gi, g in enumerate(groups) if g.activity == "Parasport"}

    def new_person(birth_year: int, sex: str | None, area: int, disabled: bool) -> int:
        """Create a person born in ``birth_year`` with a unique number (or unique name + birth date)."""
        sex = sex or ("F" if rng.random() < 0.48 else "M")
        while True:
            start = dt.date(birth_year, 1, 1)
            birth = start + dt.timedelta(days=rng.randrange(365))
            first = _first_name(rng, sex, birth_year)
            last = _last_name(rng, spec)
            if rng.random() < NO_PNR_SHARE:
                key = (last, first, birth)
                if key in no_pnr_keys:
                    continue
                no_pnr_keys.add(key)
                pnr, coordination = None, False
            else:
                coordination = rng.random() < COORDINATION_SHARE
                pnr = make_personnummer(birth, sex, rng, coordination)
                if pnr in pnrs:
                    continue
                pnrs.add(pnr)
            break
        people.append(PersonPlan(first, last, birth, sex, pnr, coordination, area, disabled))
        idx = len(people) - 1
        by_birth_year.setdefault(birth_year, []).append(idx)
        schedule[idx] = []
        return idx

    def home_area(g: GroupPlan) -> int:
        """Half live in the area of the group's facility, the rest anywhere (by population)."""
        if rng.random() < 0.5:
            return facilities[g.facility].area
        return rng.choices(range(len(areas)), area_weights)[0]

    def reuse(candidates: list[int], g: GroupPlan) -> int | None:
        """Someone already planned who can join ``g`` without a time clash, if found quickly."""
        for _ in range(12):
            if not candidates:
                return None
            p = rng.choice(candidates)
            if len(schedule[p]) >= 2 or any(_overlaps(s, g.slots) for s in schedule[p]):
                continue
            if g.sex and people[p].sex != g.sex:
                continue
            return p
        return None

    # Leaders: adults (some teenagers in youth groups), a few leading two groups.
    adult_leaders: list[int] = []
    for g in groups:
        count = rng.randint(2, 3) if g.team_sport else rng.randint(1, 2)
        for k in range(count):
            p = reuse(adult_leaders, g) if rng.random() < 0.15 else None
            if p is None:
                if g.max_age <= 14 and k > 0 and rng.random() < 0.5:
                    birth_year = year - rng.randint(15, 19)
                elif g.min_age >= 60:
                    birth_year = year - rng.randint(62, 70)
                else:
                    birth_year = year - rng.randint(22, 66)
                p = new_person(birth_year, None, home_area(g), False)
                if year - birth_year >= 20:
                    adult_leaders.append(p)
            if p not in g.leaders:
                g.leaders.append(p)
                schedule[p].append(g.slots)

    # Participants: the remaining budget shared by the groups' typical size; one in ten from another group.
    budget = max(0, n_people - len(people))
    total = sum(g.size for g in groups)
    shares = [budget * g.size // total for g in groups]
    for i in range(budget - sum(shares)):
        shares[i % len(groups)] += 1
    for gi, g in enumerate(groups):
        roster: list[int] = []
        for _ in range(shares[gi]):
            disabled = rng.random() < (0.9 if gi in disability_groups else 0.01)
            roster.append(new_person(year - rng.randint(g.min_age, g.max_age), g.sex, home_area(g), disabled))
        for _ in range(max(1, shares[gi] // 10)):
            cands = [p for y in range(year - g.max_age, year - g.min_age + 1) for p in by_birth_year.get(y, [])]
            p = reuse(cands, g)
            if p is not None and p not in roster and p not in g.leaders:
                roster.append(p)
        if not roster:  # tiny scales: borrow anyone of the right age, else anyone
            cands = [p for p in range(len(people)) if p not in g.leaders]
            roster.append(rng.choice(cands) if cands else g.leaders[0])
        for p in roster:
            schedule[p].append(g.slots)
        expected = min(g.size, len(roster))
        base = expected / len(roster)
        g.members = [(p, min(0.97, base * rng.uniform(0.4, 1.6))) for p in roster]

    # Whatever the scale: a few without a personal number, and one with a coordination number.
    participants = [p for g in groups for p, _ in g.members]
    for p in participants[-2:]:
        person = people[p]
        if person.pnr and (person.last_name, person.first_name, person.birth_date) not in no_pnr_keys:
            no_pnr_keys.add((person.last_name, person.first_name, person.birth_date))
            person.pnr, person.coordination = None, False
    first = people[participants[0]]
    if first.pnr and not any(pp.coordination for pp in people):
        first.pnr = make_personnummer(first.birth_date, first.sex, rng, coordination=True)
        first.coordination = True
    return people


def _active_weeks(spec: TenantSpec, year: int, indoor: bool) -> list[dt.date]:
    """Mondays of the weeks a group meets (no Christmas, sports holiday or summer break)."""
    monday = dt.date(year, 1, 1) - dt.timedelta(days=dt.date(year, 1, 1).weekday())
    out = []
    while monday.year <= year:
        week = (monday + dt.timedelta(days=3)).isocalendar()[1]
        summer = range(26, 32) if indoor else range(29, 31)
        if not (week in summer or week == spec.sportlov_week or week in (1, 52, 53)):
            out.append(monday)
        monday += dt.timedelta(days=7)
    return out


def _in_break(spec: TenantSpec, g: GroupPlan, d: dt.date, year: int) -> bool:
    """Whether the group takes a break in the week of ``d``."""
    monday = d - dt.timedelta(days=d.weekday())
    return monday not in _weeks_cache(spec, year, g.indoor)


_WEEKS: dict[tuple[str, int, bool], frozenset[dt.date]] = {}


def _weeks_cache(spec: TenantSpec, year: int, indoor: bool) -> frozenset[dt.date]:
    """:func:`_active_weeks`, computed once per municipality, year and season kind."""
    key = (spec.slug, year, indoor)
    if key not in _WEEKS:
        _WEEKS[key] = frozenset(_active_weeks(spec, year, indoor))
    return _WEEKS[key]


def _random_date(rng: random.Random, spec: TenantSpec, g: GroupPlan, year: int) -> tuple[dt.date, Slot]:
    """A date on which the group meets (one of its weekly slots in an active week)."""
    weeks = sorted(_weeks_cache(spec, year, g.indoor))
    while True:
        slot = rng.choice(g.slots)
        d = rng.choice(weeks) + dt.timedelta(days=slot.weekday)
        if d.year == year:
            return d, slot


def _channel(rng: random.Random, assoc: AssociationPlan) -> str:
    """The channel of a report: the partner system's, else the app or the web form."""
    if assoc.partner:
        return assoc.partner
    return "app" if rng.random() < 0.55 else "web"


def _plan_scenarios(rng: random.Random, tp: TenantPlan, year: int) -> None:
    """Clashes across associations, a leader in two places at once, double reports, rule-breaking sessions."""
    spec = tp.spec
    groups = tp.groups
    n = len(groups)
    youth = [gi for gi, g in enumerate(groups) if g.max_age <= 20 and g.slots[0].start < _t(21)]

    def extra(kind: str, gi_a: int, person: int, as_leader: bool, number: int) -> None:
        """Plan a session of another group that overlaps one of ``gi_a``'s with ``person`` in both."""
        a = groups[gi_a]
        d, slot = _random_date(rng, spec, a, year)
        others = [gi for gi in range(n) if groups[gi].association != a.association] or \
            [gi for gi in range(n) if gi != gi_a]
        gi_b = rng.choice(others)
        b = groups[gi_b]
        start = max(_t(7), slot.start + rng.choice((-30, 15, 30)))
        minutes = rng.choice((60, 75, 90))
        f = a.forced.setdefault(d, {})
        f.setdefault("leaders" if as_leader else "present", []).append(person)
        assoc = tp.associations[b.association]
        marks: list[tuple[int, str, bool, bool]] = []
        present = [p for p, _ in b.members if rng.random() < 0.6 and p != person][: b.size]
        for p in present:
            marks.append((p, "participant", True, tp.people[p].disabled))
        if not as_leader:
            marks.append((person, "participant", True, tp.people[person].disabled))
        leaders = [p for p in b.leaders[:1] if p != person]
        if as_leader:
            leaders.append(person)
        for p in leaders:
            marks.append((p, "leader", True, False))
        channel = _channel(rng, assoc)
        code = f"{spec.slug[:3]}-{gi_b}-{d:%Y%m%d}-x{number}" if channel in ("api", "dak") else None
        b.extras.append(SessionPlan(gi_b, d, start, minutes, "Traening", b.facility, channel, code, marks, kind))

    clashes = 2 + round(n * 0.25)
    for i in range(clashes):
        gi = rng.choice(youth or list(range(n)))
        person = rng.choice(groups[gi].members)[0]
        extra("clash", gi, person, False, i)
    for i in range(1 + round(n * 0.05)):
        gi = rng.choice(range(n))
        extra("leader_clash", gi, groups[gi].leaders[0], True, clashes + i)

    # Double reports: first the gymnastics association's partner system, then a leader in the app.
    partner_groups = [gi for gi, g in enumerate(groups) if tp.associations[g.association].partner] or list(range(n))
    for i in range(1 + round(n * 0.05)):
        gi = partner_groups[0] if i == 0 else rng.choice(partner_groups)
        d, _ = _random_date(rng, spec, groups[gi], year)
        groups[gi].forced.setdefault(d, {})["double"] = True

    # At least one of each rule-breaking kind, whatever the scale.
    plain = [gi for gi, g in enumerate(groups) if len(g.members) >= 3 and g.slots[0].start < _t(21)] or list(range(n))
    for anomaly in ("short", "few", "no_leader"):
        gi = rng.choice(plain)
        d, _ = _random_date(rng, spec, groups[gi], year)
        groups[gi].forced.setdefault(d, {}).setdefault("anomaly", anomaly)


# --- the year of sessions -------------------------------------------------------------------------------

def group_sessions(plan: DemoPlan, tp: TenantPlan, gi: int) -> Iterator[SessionPlan]:
    """One group's year of sessions in date order (lazy; its own seeded generator)."""
    g = tp.groups[gi]
    rng = _rng(plan.seed, tp.spec.slug, "group", gi)
    assoc = tp.associations[g.association]
    year = plan.year
    extras = sorted(g.extras, key=SessionPlan.sort_key)
    ei = 0
    monday = dt.date(year, 1, 1) - dt.timedelta(days=dt.date(year, 1, 1).weekday())
    while monday.year <= year:
        week: list[SessionPlan] = []
        for si, slot in enumerate(g.slots):
            d = monday + dt.timedelta(days=slot.weekday)
            if d.year != year:
                continue
            forced = g.forced.get(d)
            if forced is None:
                if _in_break(tp.spec, g, d, year):
                    continue
                if rng.random() < CANCEL_RATE or (tp.keep < 1 and rng.random() >= tp.keep):
                    continue
            week.extend(_compose(rng, tp, g, gi, assoc, d, si, slot, forced or {}))
        next_monday = monday + dt.timedelta(days=7)
        while ei < len(extras) and extras[ei].date < next_monday:
            week.append(extras[ei])
            ei += 1
        week.sort(key=SessionPlan.sort_key)
        yield from week
        monday = next_monday


def _compose(rng: random.Random, tp: TenantPlan, g: GroupPlan, gi: int, assoc: AssociationPlan, d: dt.date,
             si: int, slot: Slot, forced: dict) -> list[SessionPlan]:
    """One occasion of a weekly slot: who came, with the planned or random rule-breaking variant."""
    people = tp.people
    anomaly = forced.get("anomaly")
    if anomaly is None:
        r = rng.random()
        if r < SHORT_RATE:
            anomaly = "short"
        elif r < SHORT_RATE + FEW_RATE:
            anomaly = "few"
        elif r < SHORT_RATE + FEW_RATE + NO_LEADER_RATE:
            anomaly = "no_leader"
    minutes = slot.minutes
    if anomaly == "short":
        minutes = rng.choice((30, 35, 40))
    elif rng.random() < 0.1:
        minutes += rng.choice((-15, 15))
    present = [p for p, prob in g.members if rng.random() < prob]
    absent = [p for p, _ in g.members if p not in present] if assoc.partner == "dak" else []
    if anomaly == "few":
        keep = rng.choice((1, 2))
        if assoc.partner == "dak":
            absent += present[keep:]
        present = present[:keep]
    for p in forced.get("present", ()):
        if p not in present:
            present.append(p)
            if p in absent:
                absent.remove(p)
    if not present:
        present = [rng.choice(g.members)[0]]
    leaders = [p for p in g.leaders if rng.random() < 0.9]
    if anomaly == "no_leader":
        leaders = []
    elif not leaders:
        leaders = [g.leaders[0]]
    for p in forced.get("leaders", ()):
        if p not in leaders:
            leaders.append(p)
    marks: list[tuple[int, str, bool, bool]] = []
    temp = None
    if rng.random() < TEMP_LEADER_RATE:
        older = [p for p in present if d.year - people[p].birth_date.year >= 13]
        temp = older[0] if older else None
    for p in present:
        marks.append((p, "temporary_leader" if p == temp else "participant", True, people[p].disabled))
    for p in absent:
        marks.append((p, "participant", False, people[p].disabled))
    for p in leaders:
        if p not in present:
            marks.append((p, "leader", True, False))
    channel = _channel(rng, assoc)
    code = f"{tp.spec.slug[:3]}-{gi}-{d:%Y%m%d}-{si}" if channel in ("api", "dak") else None
    s = SessionPlan(gi, d, slot.start, minutes, slot.session_type, slot.facility, channel, code, marks)
    if not forced.get("double"):
        return [s]
    again = "app" if channel != "app" else "web"
    dup = SessionPlan(gi, d, slot.start, minutes, slot.session_type, slot.facility, again, None,
                      [m for m in marks if m[2]], "double")
    return [s, dup]


def session_stream(plan: DemoPlan, tp: TenantPlan) -> Iterator[SessionPlan]:
    """All sessions of a tenant in date order, merged lazily from the groups' streams."""
    streams = [group_sessions(plan, tp, gi) for gi in range(len(tp.groups))]
    return heapq.merge(*streams, key=SessionPlan.sort_key)


# --- writing it -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoLogin:
    """A demo user: role, e-mail and what the role covers."""

    role: str
    email: str
    name: str
    tenant: str
    scope: str


LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("tenant_admin", "admin@umea.demo", "Annika Administratör", "umea", "Umeå kommun"),
    DemoLogin("grant_officer", "officer@umea.demo", "Hans Handläggare", "umea", "Umeå kommun"),
    DemoLogin("planner", "planner@umea.demo", "Pia Planerare", "umea", "Umeå kommun"),
    DemoLogin("association_admin", "forening@umea.demo", "Fredrik Föreningsadmin", "umea", "association"),
    DemoLogin("reporter", "ledare@umea.demo", "Lina Ledare", "umea", "group"),
    DemoLogin("tenant_admin", "admin@kungsbacka.demo", "Kerstin Kommunadmin", "kungsbacka", "Kungsbacka kommun"),
)


@dataclass
class DemoSummary:
    """What :func:`load_demo` did."""

    loaded: bool
    tenants: dict[str, dict[str, int]] = field(default_factory=dict)
    refused: int = 0
    seconds: float = 0.0
    logins: list[tuple[str, str, str]] = field(default_factory=list)


def load_demo(if_empty: bool, scale: float, echo: Callable[[str], object] = print, *, seed: int = DEFAULT_SEED,
              year: int | None = None, batch_size: int = BATCH_SIZE) -> DemoSummary:
    """Build the demo data set in the app's database and print the demo logins.

    With ``if_empty`` nothing is written when the demo municipalities exist already (the logins are still
    printed). Without it, existing demo municipalities are a :class:`apn.errors.Conflict`.
    """
    from sqlalchemy import select

    from apn.errors import Conflict
    from apn.extensions import db
    from apn.models import Tenant
    from apn.tenancy import system_scope

    began = time.perf_counter()
    slugs = [s.slug for s in TENANTS]
    codes = [s.kommunkod for s in TENANTS]
    with system_scope():
        existing = db.session.execute(select(Tenant.slug).where(
            Tenant.slug.in_(slugs) | Tenant.kommunkod.in_(codes))).scalars().all()
        db.session.rollback()
    if existing:
        if not if_empty:
            raise Conflict(f"the demo municipalities exist already ({', '.join(sorted(existing))}); "
                           "use --if-empty or an empty database", field="tenant")
        echo("Demo data present; nothing loaded.")
        summary = DemoSummary(loaded=False)
        _print_logins(summary, echo)
        return summary

    plan = plan_demo(scale, seed, year)
    summary = DemoSummary(loaded=True)
    echo(f"Loading demo data for {plan.year} at scale {scale:g} (seed {seed}) ...")
    from apn.auth import hash_password

    users = _create_users()
    # The demo's partner clients share one secret nobody knows (rotate it with the partner commands to use one).
    client_secret_hash = hash_password(secrets.token_urlsafe(32))
    for tp in plan.tenants:
        t0 = time.perf_counter()
        counts = _load_tenant(plan, tp, users, client_secret_hash, batch_size, echo)
        summary.tenants[tp.spec.slug] = counts
        summary.refused += counts["refused"]
        echo(f"  {tp.spec.name}: {counts['associations']} associations, {counts['groups']} groups, "
             f"{counts['people']} people, {counts['sessions']} sessions, {counts['participations']} "
             f"participations, {counts['leader_participations']} leader participations "
             f"({time.perf_counter() - t0:.1f} s)")
    summary.seconds = time.perf_counter() - began
    echo(f"Done in {summary.seconds:.1f} s.")
    _print_logins(summary, echo)
    return summary


def _create_users() -> dict[str, int]:
    """The demo users (global), created if missing; e-mail → id."""
    from sqlalchemy import select

    from apn.auth import hash_password
    from apn.extensions import db
    from apn.models import User

    out: dict[str, int] = {}
    password_hash = hash_password(DEMO_PASSWORD)  # one argon2 hash (salted once) serves every demo login
    for login in LOGINS:
        user = db.session.execute(select(User).where(User.email == login.email)).scalar_one_or_none()
        if user is None:
            user = User(email=login.email, name=login.name, password_hash=password_hash, active=True,
                        locale="sv")
            db.session.add(user)
            db.session.flush()
        out[login.email] = user.id
    db.session.commit()
    return out


def _load_tenant(plan: DemoPlan, tp: TenantPlan, users: dict[str, int], client_secret_hash: str,
                 batch_size: int, echo: Callable[[str], object]) -> dict[str, int]:
    """Write one municipality: reference data set-based, then its sessions through the intake."""
    from sqlalchemy import func, insert, select

    from apn.extensions import db
    from apn.identity import encrypt_pnr, pnr_hash
    from apn.intake import AttendanceMark, PersonRef, SessionCommand, ingest
    from apn.models import (
        ActivitySession,
        Attendance,
        Facility,
        Group,
        GroupMember,
        HomeArea,
        PartnerAuthorisation,
        PartnerClient,
        Person,
        RoleGrant,
        allocate_ids,
    )
    from apn.services.associations import create_association
    from apn.services.tenants import create_tenant, ensure_periods
    from apn.tenancy import system_scope, tenant_scope

    spec = tp.spec
    with system_scope():
        tenant = create_tenant(spec.slug, spec.name, spec.kommunkod, spec.preset)
        tid = tenant.id
    ensure_periods(tid, [plan.year])
    db.session.commit()

    with tenant_scope(tid):
        conn = db.session.connection()
        area_ids = list(allocate_ids(conn, "home_area", len(tp.areas)))
        conn.execute(insert(HomeArea), [{"tenant_id": tid, "id": i, "code": a.code, "name": a.name,
                                         "version": a.version} for i, a in zip(area_ids, tp.areas, strict=True)])
        fac_ids = list(allocate_ids(conn, "facility", len(tp.facilities)))
        conn.execute(insert(Facility), [{"tenant_id": tid, "id": i, "name": f.name, "address": f.address,
                                         "home_area_id": area_ids[f.area], "latitude": f.lat, "longitude": f.lon}
                                        for i, f in zip(fac_ids, tp.facilities, strict=True)])

        clients: dict[str, int] = {}
        for channel, name in (("api", "Klubbsystemet (demo)"), ("dak", "Föreningsportalen DAK (demo)")):
            pc = PartnerClient(tenant_id=tid, name=name, client_id=f"demo-{spec.slug}-{channel}",
                               secret_hash=client_secret_hash, active=True)
            db.session.add(pc)
            db.session.flush()
            clients[channel] = pc.id

        assoc_ids: list[int] = []
        for a in tp.associations:
            row = create_association(a.name, a.orgnr, contact_name=a.contact_name, contact_email=a.contact_email,
                                     payout_method=a.payout_method, payout_account=a.payout_account,
                                     disability_association=a.disability)
            assoc_ids.append(row.id)
        auth = [{"tenant_id": tid, "partner_client_id": clients[a.partner], "association_id": assoc_ids[i]}
                for i, a in enumerate(tp.associations) if a.partner]
        conn = db.session.connection()
        if auth:
            conn.execute(insert(PartnerAuthorisation), auth)

        group_ids = list(allocate_ids(conn, "activity_group", len(tp.groups)))
        rows = []
        for n, (gid, g) in enumerate(zip(group_ids, tp.groups, strict=True)):
            partner = tp.associations[g.association].partner
            first = g.slots[0]
            rows.append({"tenant_id": tid, "id": gid, "association_id": assoc_ids[g.association], "name": g.name,
                         "main_activity": g.activity, "main_facility_id": fac_ids[g.facility],
                         "usual_weekday": first.weekday, "usual_start": _clock(first.start),
                         "usual_stop": _clock(first.start + first.minutes),
                         "partner_client_id": clients[partner] if partner else None,
                         "partner_card_number": str(1000 + n) if partner else None,
                         "active": True})
        conn.execute(insert(Group), rows)

        person_ids = list(allocate_ids(conn, "person", len(tp.people)))
        for chunk in range(0, len(tp.people), 5000):
            rows = []
            for pid, p in zip(person_ids[chunk:chunk + 5000], tp.people[chunk:chunk + 5000], strict=True):
                rows.append({"tenant_id": tid, "id": pid, "first_name": p.first_name, "last_name": p.last_name,
                             "birth_date": p.birth_date, "sex": p.sex,
                             "pnr_hash": pnr_hash(p.pnr) if p.pnr else None,
                             "pnr_encrypted": encrypt_pnr(p.pnr) if p.pnr else None,
                             "coordination_number": p.coordination, "home_area_id": area_ids[p.area]})
            conn.execute(insert(Person), rows)
        members = []
        for gid, g in zip(group_ids, tp.groups, strict=True):
            for p in g.leaders:
                members.append({"tenant_id": tid, "group_id": gid, "person_id": person_ids[p], "role": "leader"})
            leaders = set(g.leaders)
            for p, _ in g.members:
                if p not in leaders:
                    members.append({"tenant_id": tid, "group_id": gid, "person_id": person_ids[p],
                                    "role": "participant"})
        conn.execute(insert(GroupMember), members)

        reporter_group = None
        if spec.slug == "umea":
            reporter_group = 0
        for login in LOGINS:
            if login.tenant != spec.slug:
                continue
            grant = RoleGrant(tenant_id=tid, user_id=users[login.email], role=login.role)
            if login.role in ("association_admin", "reporter"):
                grant.association_id = assoc_ids[tp.groups[0].association]
            if login.role == "reporter":
                grant.group_id = group_ids[0]
            db.session.add(grant)
        db.session.commit()

    reporter_id = users.get("ledare@umea.demo") if spec.slug == "umea" else None

    def ref(p: int, channel: str) -> PersonRef:
        """How the channel names the person: id (web/app), number or name + birth date (API, DAK)."""
        person = tp.people[p]
        if channel in ("web", "app"):
            return PersonRef(person_id=person_ids[p])
        ext = f"M{p:06d}" if channel == "dak" else None
        if person.pnr:
            return PersonRef(personnummer=person.pnr, first_name=person.first_name, last_name=person.last_name,
                             external_id=ext)
        return PersonRef(first_name=person.first_name, last_name=person.last_name, birth_date=person.birth_date,
                         sex=person.sex, external_id=ext)

    def command(s: SessionPlan, n: int) -> SessionCommand:
        """The intake command for a planned session."""
        g = tp.groups[s.group]
        end = s.start + s.minutes
        stop_date = s.date + dt.timedelta(days=end // 1440) if end >= 1440 else None
        partner = s.channel if s.channel in ("api", "dak") else None
        return SessionCommand(
            association_id=assoc_ids[g.association], group_id=group_ids[s.group], session_date=s.date,
            start_time=_clock(s.start), stop_time=_clock(end), stop_date=stop_date, channel=s.channel,
            activity=g.activity, facility_id=fac_ids[s.facility], session_type=s.session_type,
            team_sport=g.team_sport, partner_client_id=clients[partner] if partner else None,
            partner_code=s.partner_code,
            reported_by_user_id=reporter_id if s.group == reporter_group and not partner else None,
            attendance=[AttendanceMark(ref(p, s.channel), role, present, disability)
                        for p, role, present, disability in s.marks],
            ref=f"{spec.slug}:{n}")

    refused = 0
    batches = 0
    stream = session_stream(plan, tp)
    counter = itertools.count(1)
    with tenant_scope(tid):
        while True:
            batch = [command(s, next(counter)) for s in itertools.islice(stream, batch_size)]
            if not batch:
                break
            result = ingest(batch)
            if result.refused:
                refused += len(result.refused)
                first = result.refused[0]
                echo(f"  refused {len(result.refused)} in {spec.slug}: {first.ref} {first.field}: {first.reason}")
            db.session.commit()
            batches += 1

        counts = {
            "associations": len(assoc_ids), "groups": len(group_ids), "people": len(person_ids),
            "sessions": db.session.scalar(select(func.count()).select_from(ActivitySession).where(
                ActivitySession.tenant_id == tid)),
            "participations": db.session.scalar(select(func.count()).select_from(Attendance).where(
                Attendance.tenant_id == tid, Attendance.present, Attendance.role == "participant")),
            "leader_participations": db.session.scalar(select(func.count()).select_from(Attendance).where(
                Attendance.tenant_id == tid, Attendance.present, Attendance.role != "participant")),
            "refused": refused, "batches": batches,
        }
        db.session.commit()
    return counts


def _clock(minute: int) -> dt.time:
    """A minute of the day (wrapping past midnight) as a time."""
    minute %= 1440
    return dt.time(minute // 60, minute % 60)


def _print_logins(summary: DemoSummary, echo: Callable[[str], object]) -> None:
    """Print one line per demo login, with the association or group it covers when known."""
    from sqlalchemy import select

    from apn.extensions import db
    from apn.models import Association, Group, RoleGrant, User
    from apn.tenancy import system_scope

    scopes: dict[str, str] = {}
    with system_scope():
        rows = db.session.execute(
            select(User.email, RoleGrant.role, Association.name, Group.name)
            .join(RoleGrant, RoleGrant.user_id == User.id)
            .outerjoin(Association, (Association.tenant_id == RoleGrant.tenant_id)
                       & (Association.id == RoleGrant.association_id))
            .outerjoin(Group, (Group.tenant_id == RoleGrant.tenant_id) & (Group.id == RoleGrant.group_id))
            .where(User.email.in_([lg.email for lg in LOGINS]))).all()
        db.session.rollback()
    for email, role, assoc, group in rows:
        if role == "association_admin" and assoc:
            scopes[email] = assoc
        elif role == "reporter" and group:
            scopes[email] = f"{group}, {assoc}"
    echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for lg in LOGINS:
        scope = scopes.get(lg.email, lg.scope)
        echo(f"  {lg.role:<18} {lg.email:<24} {scope}")
        summary.logins.append((lg.role, lg.email, scope))
