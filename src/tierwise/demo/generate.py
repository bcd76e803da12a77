"""A realistic synthetic CRM workspace: eight canonical tables and a spec.

:func:`generate_workspace` writes ``data/accounts``, ``contacts``, ``reps``,
``opportunities``, ``activities``, ``transactions``, ``leads`` and
``lead_activities`` (CSV or Parquet) with the canonical column names of
:mod:`tierwise.datamodel`, plus a copy of the starter spec. Won deals become
customers who pay every year and renew (and expand) more often the better
they fit, so lifetime value is learnable too.

Each account carries two hidden traits. *Fit* is higher for the industries,
sizes, tech stacks and countries the starter spec favours (plus noise the
spec cannot see); *intent* says how in-market the account is. Intent drives
how many scored events an account has and how recent they are; fit and
intent together drive how often its deals are won, so the outcome is
learnable from the data but not a copy of the score.

Leads are people who are not contacts yet: most work at an existing account
(email at its domain, the company name as people type it), the rest at
companies the CRM does not know or, a few, at a competitor; some write from
a personal address or mistype it. Each lead has a hidden *heat*, higher at well-fitting, in-market
accounts; hot leads do more high-intent things (demo requests, pricing page
visits) and did them recently, so lead scores and MQLs follow the accounts.

Everything is vectorised numpy and pyarrow compute (no Python loop over rows),
so a million accounts with twenty million events take well under two minutes,
and a million leads with twenty million lead events add well under a minute.
Output is deterministic: the same arguments give byte-identical files. With
``fmt="csv"`` and ``mess=True`` a few deliberately broken rows exercise the
loader's quarantine (see :func:`generate_workspace`).

Examples
--------
>>> import tempfile
>>> spec = generate_workspace(tempfile.mkdtemp(), accounts=50, events_per_account=5)
>>> spec.name, sorted(p.name for p in (spec.parent / "data").iterdir())  # doctest: +NORMALIZE_WHITESPACE
('spec.yaml', ['accounts.csv', 'activities.csv', 'contacts.csv', 'lead_activities.csv', 'leads.csv',
               'opportunities.csv', 'reps.csv', 'transactions.csv'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DAY = 86_400  # seconds
EVENT_CHUNK = 1 << 22  # events generated and written per batch; bounds memory
ROW_GROUP = 1 << 20

# --------------------------------------------------------------------------- vocabularies

# (display name, share of the spec's industry points, weight); None is a missing industry.
INDUSTRIES = (
    ("Software", 1.0, 16), ("Financial Services", 0.9, 10), ("Healthcare", 0.7, 10),
    ("Manufacturing", 0.5, 12), ("Retail", 0.4, 9), ("Education", 0.0, 6), ("Energy", 0.0, 5),
    ("Media", 0.0, 5), ("Logistics", 0.0, 6), ("Government", 0.0, 3), ("Professional Services", 0.0, 8),
    ("Real Estate", 0.0, 4), ("Telecommunications", 0.0, 3), ("Hospitality", 0.0, 3), (None, 0.0, 2),
)

# (ISO code, weight, country domain suffix, favoured by the spec's geography criterion)
COUNTRIES = (
    ("US", 42, ".com", True), ("GB", 9, ".co.uk", True), ("DE", 7, ".de", True), ("CA", 6, ".ca", True),
    ("FR", 5, ".fr", True), ("NL", 3, ".nl", True), ("AU", 4, ".com.au", True), ("BR", 4, ".com.br", False),
    ("IN", 5, ".in", False), ("JP", 3, ".jp", False), ("SG", 2, ".sg", False), ("ES", 3, ".es", False),
    ("IT", 3, ".it", False), ("MX", 2, ".mx", False),
)

REGIONS = ("NA-East", "NA-West", "EMEA", "APAC", "LATAM")

# (country, state, city, region), grouped by country in COUNTRIES order.
LOCATIONS = (
    ("US", "NY", "New York", "NA-East"), ("US", "MA", "Boston", "NA-East"), ("US", "IL", "Chicago", "NA-East"),
    ("US", "GA", "Atlanta", "NA-East"), ("US", "NC", "Raleigh", "NA-East"), ("US", "FL", "Miami", "NA-East"),
    ("US", "CA", "San Francisco", "NA-West"), ("US", "CA", "Los Angeles", "NA-West"),
    ("US", "WA", "Seattle", "NA-West"), ("US", "TX", "Austin", "NA-West"), ("US", "CO", "Denver", "NA-West"),
    ("GB", "England", "London", "EMEA"), ("GB", "England", "Manchester", "EMEA"),
    ("GB", "Scotland", "Edinburgh", "EMEA"),
    ("DE", "Berlin", "Berlin", "EMEA"), ("DE", "Bavaria", "Munich", "EMEA"), ("DE", "Hamburg", "Hamburg", "EMEA"),
    ("CA", "ON", "Toronto", "NA-East"), ("CA", "QC", "Montreal", "NA-East"), ("CA", "BC", "Vancouver", "NA-West"),
    ("FR", "Île-de-France", "Paris", "EMEA"), ("FR", "Auvergne-Rhône-Alpes", "Lyon", "EMEA"),
    ("NL", "North Holland", "Amsterdam", "EMEA"), ("NL", "South Holland", "Rotterdam", "EMEA"),
    ("AU", "NSW", "Sydney", "APAC"), ("AU", "VIC", "Melbourne", "APAC"),
    ("BR", "SP", "São Paulo", "LATAM"), ("BR", "RJ", "Rio de Janeiro", "LATAM"),
    ("IN", "KA", "Bengaluru", "APAC"), ("IN", "MH", "Mumbai", "APAC"),
    ("JP", "Tokyo", "Tokyo", "APAC"), ("JP", "Osaka", "Osaka", "APAC"),
    ("SG", None, "Singapore", "APAC"),
    ("ES", "Madrid", "Madrid", "EMEA"), ("ES", "Catalonia", "Barcelona", "EMEA"),
    ("IT", "Lombardy", "Milan", "EMEA"), ("IT", "Lazio", "Rome", "EMEA"),
    ("MX", "CDMX", "Mexico City", "LATAM"),
)
LOCATION_REGION = np.array([REGIONS.index(loc[3]) for loc in LOCATIONS])

# (normalised name, as sometimes entered); the first five are the spec's share_of list.
TECH = (
    ("salesforce", " Salesforce"), ("snowflake", "Snowflake "), ("segment", "Segment"), ("hubspot", "HubSpot"),
    ("marketo", "Marketo"), ("zendesk", "Zendesk"), ("slack", "Slack"), ("workday", "Workday"), ("sap", "SAP"),
    ("oracle", "Oracle"), ("shopify", "Shopify"), ("stripe", "Stripe"), ("aws", "AWS"), ("gcp", "GCP"),
    ("azure", "Azure"),
)
SPEC_TECH = 5

FUNDING_STAGES = ("seed", "series_a", "series_b", "series_c", "series_d", "public")

NAME_HEADS = (
    "Acme", "Apex", "Arbor", "Atlas", "Aurora", "Beacon", "Birch", "Blue", "Bright", "Cascade", "Cedar", "Cobalt",
    "Comet", "Copper", "Crescent", "Crest", "Delta", "Echo", "Ember", "Evergreen", "Falcon", "Fern", "Flint", "Forge",
    "Granite", "Harbor", "Helix", "Horizon", "Indigo", "Iron", "Juniper", "Keystone", "Lumen", "Maple", "Meridian",
    "Nimbus", "North", "Nova", "Oak", "Onyx", "Orbit", "Pacific", "Pine", "Pioneer", "Prairie", "Quantum", "Quarry",
    "Radiant", "Redwood", "Ridge", "River", "Sage", "Sierra", "Silver", "Solstice", "Spruce", "Summit", "Terra",
    "Tidal", "Titan", "Vertex", "Willow", "Zenith", "Zephyr",
)
NAME_TAILS = (
    "Analytics", "Bio", "Brands", "Capital", "Cloud", "Data", "Digital", "Dynamics", "Energy", "Foods", "Foundry",
    "Freight", "Health", "Holdings", "Industries", "Insights", "Labs", "Learning", "Logistics", "Materials", "Media",
    "Medical", "Motors", "Networks", "Partners", "Payments", "Pharma", "Retail", "Robotics", "Security", "Software",
    "Solutions", "Studios", "Supply", "Systems", "Technologies", "Ventures", "Works",
)
NAME_SUFFIXES = (("", 55), (" Inc", 15), (" LLC", 8), (" Ltd", 8), (" GmbH", 4), (" Group", 6), (" Co", 4))

FIRST_NAMES = (
    "Aisha", "Alex", "Ana", "Ben", "Carlos", "Chen", "Chloe", "Daniel", "David", "Elena", "Emma", "Fatima", "Felix",
    "Grace", "Hannah", "Hiro", "Isabel", "Ivan", "James", "Jia", "Julia", "Karim", "Laura", "Leo", "Lucas", "Maria",
    "Mateo", "Maya", "Mohammed", "Nina", "Noah", "Olivia", "Omar", "Priya", "Rahul", "Rosa", "Sam", "Sara", "Sofia",
    "Tom", "Yuki", "Zoe",
)
LAST_NAMES = (
    "Adams", "Ali", "Becker", "Brown", "Chen", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Gupta", "Hall",
    "Ito", "Jensen", "Johnson", "Kim", "Kowalski", "Lee", "Lopez", "Martin", "Meyer", "Moreau", "Murphy", "Nguyen",
    "Novak", "Okafor", "Patel", "Rossi", "Santos", "Schmidt", "Silva", "Singh", "Smith", "Suzuki", "Taylor",
    "Tanaka", "Walker", "Wang", "Williams", "Wilson", "Yilmaz", "Zhang",
)

# (title, seniority, persona, weight)
TITLES = (
    ("Chief Executive Officer", "c_level", "economic_buyer", 2),
    ("Chief Revenue Officer", "c_level", "economic_buyer", 3),
    ("Chief Financial Officer", "c_level", "economic_buyer", 2),
    ("Chief Technology Officer", "c_level", "technical_buyer", 2),
    ("VP of Sales", "vp", "economic_buyer", 5),
    ("VP of Marketing", "vp", "economic_buyer", 4),
    ("VP Revenue Operations", "vp", "champion", 3),
    ("Director of Sales Operations", "director", "champion", 6),
    ("Director of Demand Generation", "director", "champion", 5),
    ("IT Director", "director", "technical_buyer", 4),
    ("Revenue Operations Manager", "manager", "champion", 8),
    ("Sales Manager", "manager", "user", 8),
    ("Marketing Operations Manager", "manager", "champion", 6),
    ("Procurement Manager", "manager", "procurement", 3),
    ("Account Executive", "individual", "user", 12),
    ("Sales Development Representative", "individual", "user", 10),
    ("Data Analyst", "individual", "user", 7),
    ("Marketing Specialist", "individual", "user", 8),
)

ROLES = ("enterprise_ae", "mid_market_ae", "smb_pool", "sdr")
# Reps take roles in this repeating order so even ten reps cover every role.
ROLE_CYCLE = np.array([2, 1, 0, 3, 2, 1, 2, 0, 3, 1])
ROLE_CAPACITY = ((30, 61), (100, 201), (1500, 3001), (300, 601))  # accounts a rep can own, per role
REP_TEAM = 8  # reps per team; the team's first rep manages the others
# Reps of a role take regions in this order (largest first), so a role with five or more reps staffs every
# region and the territory plan (per role and region) has a team in each; 25 reps give every role five.
REP_REGION_ORDER = np.array([0, 2, 1, 3, 4])  # NA-East, EMEA, NA-West, APAC, LATAM
MIN_REPS = 25

OPEN_STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation")
PRODUCTS = (("Platform", 50), ("Analytics", 25), ("Integrations", 15), ("Premium Support", 10))


class EventType(NamedTuple):
    name: str
    source: str
    contact_share: float  # share of events that name the contact who acted
    cold_weight: float  # mix for accounts that are not in market
    hot_weight: float  # mix for in-market accounts
    details: tuple[str, ...]


EVENT_TYPES = (
    EventType("leadership_change", "news", 0.0, 0.6, 1.5, ("new CEO", "new CRO", "new VP Sales", "new CFO")),
    EventType("funding_round", "news", 0.0, 0.3, 1.2, ("Seed", "Series A", "Series B", "Series C", "Series D")),
    EventType("acquisition", "news", 0.0, 0.2, 0.8, ("acquired a competitor", "was acquired", "merged with a partner")),
    EventType("hiring_surge", "job_postings", 0.0, 0.8, 2.5,
              ("sales roles +30%", "engineering roles +40%", "revops roles +50%")),
    EventType("tech_adoption", "technographics", 0.0, 0.8, 2.0, tuple(t for t, _ in TECH)),
    EventType("intent_surge", "intent_provider", 0.0, 1.5, 8.0,
              ("sales segmentation", "lead scoring", "territory planning", "revenue operations",
               "account-based marketing")),
    EventType("demo_request", "web", 1.0, 0.2, 3.0, ("form: request a demo", "chat: talk to sales")),
    EventType("pricing_page_visit", "web", 0.3, 2.0, 12.0, ("/pricing", "/pricing/enterprise", "/pricing/compare")),
    EventType("content_download", "marketing_automation", 0.9, 6.0, 8.0,
              ("ebook: the ICP playbook", "report: state of RevOps", "template: account tiering",
               "whitepaper: territory design")),
    EventType("email_reply", "email", 1.0, 2.0, 7.0,
              ("re: quick question", "re: following up", "re: intro", "out of office")),
    EventType("webinar_attended", "marketing_automation", 1.0, 2.0, 4.0,
              ("Scoring accounts that convert", "Tiering 101", "Pipeline reviews that work")),
    EventType("champion_activity", "product", 1.0, 0.3, 4.0,
              ("invited teammates", "shared a report", "built a dashboard")),
    EventType("unsubscribe", "email", 1.0, 1.5, 0.5, ("newsletter", "all marketing email")),
    EventType("page_view", "web", 0.3, 45.0, 30.0, ("/", "/blog", "/product", "/customers", "/docs", "/careers")),
    EventType("email_open", "email", 1.0, 30.0, 15.0, ("newsletter", "product update", "event invite", "follow-up")),
)
MIXED_CASE_SHARE = 0.03  # events whose type is written "Pricing_Page_Visit"
FUTURE_SHARE = 0.003  # events dated after as_of (the scorer must ignore them)

# Deliberate mess (CSV only): shares of rows, at least one row of each kind.
BAD_ACCOUNT_SHARE = 0.0005  # per kind; four kinds make 0.2%
BAD_ACTIVITY_SHARE = 0.0005  # per kind; two kinds make 0.1%
BAD_OPPORTUNITY_SHARE = 0.002
BAD_TIMESTAMPS = ("last tuesday", "n/a", "2026-13-45")

# --------------------------------------------------------------------------- lead vocabularies

# Where a lead works (shares of leads): an existing account, a company the CRM does not know, a competitor.
LEAD_AT_ACCOUNT, LEAD_AT_COMPETITOR = 0.60, 0.005
# How the email is written (shares of leads): a personal address, a malformed one; the rest at the company.
LEAD_PERSONAL, LEAD_MALFORMED = 0.10, 0.01
LEAD_NO_COMPANY = 0.03
LEAD_PERSONA_BLANK = 0.40  # persona left empty: the spec derives it from the title keywords
LEAD_MONTHS = 9  # leads were created over the last nine months

# (name, email domain); the starter spec's lead scoring penalises these domains.
COMPETITORS = (("Segmently", "segmently.io"), ("Tierlytics", "tierlytics.com"), ("ScoreStack", "scorestack.com"))
PERSONAL_MAIL = (
    ("gmail.com", 55), ("yahoo.com", 10), ("outlook.com", 10), ("hotmail.com", 8), ("icloud.com", 6),
    ("proton.me", 3), ("gmx.de", 3), ("yahoo.co.uk", 3), ("web.de", 2),
)
# Companies the CRM does not know: words that are not in NAME_HEADS / NAME_TAILS, so no account name is near.
OTHER_HEADS = (
    "Alder", "Basalt", "Bramble", "Cinder", "Dune", "Elmwood", "Garnet", "Hazel", "Heron", "Ivory", "Jasper",
    "Kestrel", "Lark", "Linden", "Marble", "Mesa", "Nectar", "Obsidian", "Otter", "Pebble", "Quill", "Rowan",
    "Saffron", "Slate", "Sorrel", "Thistle", "Umber", "Velvet", "Wren", "Yarrow",
)
OTHER_TAILS = (
    "Accounting", "Agency", "Apparel", "Architects", "Builders", "Clinic", "Collective", "Consulting", "Dental",
    "Design", "Events", "Farms", "Fitness", "Kitchens", "Legal", "Outfitters", "Print", "Roasters", "Trading",
    "Travel",
)
# How people type a known account's name "Acme Analytics Inc" (weights): as in the CRM, without the legal
# form, with another legal form, the first word only, with a typo in the first word, upper or lower case.
(NAME_EXACT, NAME_BARE, NAME_OTHER_FORM, NAME_HEAD_ONLY, NAME_TYPO, NAME_UPPER, NAME_LOWER) = range(7)
NAME_VARIANTS = (45, 20, 10, 5, 8, 8, 4)
OTHER_LEGAL_FORMS = (" Corp", " Corporation", " Incorporated", " Inc.", ", Inc.", " Ltd.", " GmbH", " LLC")


def _typos(word: str) -> tuple[str, str, str]:
    """Three misspellings of a name word: two letters swapped, one dropped, one doubled."""
    i = max(2, len(word) // 2)
    return word[:i - 1] + word[i] + word[i - 1] + word[i + 1:], word[:i] + word[i + 1:], word[:i] + word[i - 1:]


TYPO_HEADS = tuple(t for h in NAME_HEADS for t in _typos(h))
LEAD_SOURCES = ("web", "event", "list", "referral", "partner")
LEAD_SOURCE_COLD = (30, 17, 30, 8, 15)
LEAD_SOURCE_HOT = (60, 10, 5, 15, 10)  # hot leads mostly come in through the website and referrals
LEAD_STATUSES = (("new", 40), ("working", 25), ("nurturing", 30), ("unqualified", 5))
LEAD_EVENT_NAMES = ("demo_request", "pricing_page_visit", "content_download", "webinar_attended", "email_reply",
                    "page_view", "unsubscribe")
BAD_LEAD_SHARE = 0.0005  # CSV mess: repeated lead rows
BAD_LEAD_EVENT_SHARE = 0.0005  # per kind: unknown lead ids (any format), unparsable occurred_at (CSV)

# --------------------------------------------------------------------------- entry point


def generate_workspace(
    out_dir: str | Path,
    *,
    accounts: int = 5000,
    seed: int = 7,
    as_of: date = date(2026, 11, 1),
    events_per_account: float = 20.0,
    fmt: str = "csv",
    mess: bool = True,
    deals_per_account: float = 0.4,
    leads: int | None = None,
    events_per_lead: float = 8.0,
) -> Path:
    """Write a realistic synthetic CRM workspace and return the path of its spec.yaml.

    ``out_dir/data`` receives accounts, contacts, reps, opportunities,
    activities, transactions, leads and lead_activities as ``fmt`` ("csv" or
    "parquet") files; ``out_dir/spec.yaml`` is the starter spec named ``demo``
    with ``as_of`` set (its SDR pools list the generated SDR reps). Everything
    is dated before ``as_of`` except the expected close dates of open deals
    and a few events up to ten days after it (which scoring must ignore).
    Parquet files are zstd-compressed, with ``tech_stack`` as ``list<string>``.

    ``leads`` defaults to half the number of accounts (0 writes empty lead
    files); each lead has ``events_per_lead`` events on average. About 60% of
    leads work at an existing account, 0.5% at a competitor (the starter
    spec's competitor domains) and the rest at companies the CRM does not
    know; 10% wrote from a personal address, 1% gave a malformed email and
    3% no company. The leads and their events come from their own random
    streams, so adding or removing leads leaves every other file unchanged.
    With ``mess=True`` (either format) 0.05% of lead events name a lead that
    is not in the leads table and 0.3% are dated after ``as_of``.

    With ``fmt="csv"`` and ``mess=True`` some rows are broken on purpose:
    0.2% extra account rows (a repeated account_id placed after its original,
    employees such as "approx 200", a negative annual_revenue, an empty
    account_id), 0.1% of activities with an unknown account_id or an
    unparsable occurred_at, and 0.2% of opportunities with a negative amount.
    The extra account rows are not referenced by any other table, so the
    ``accounts`` real accounts all load. Lead files get 0.05% extra lead rows
    (a repeated lead_id, after its original) and 0.05% of lead events an
    unparsable occurred_at.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if accounts < 1 or events_per_account < 0 or deals_per_account < 0:
        raise ValueError("accounts must be positive and events_per_account and deals_per_account not negative")
    n_leads = accounts // 2 if leads is None else leads
    if n_leads < 0 or events_per_lead < 0:
        raise ValueError("leads and events_per_lead must not be negative")
    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    messy = mess and fmt == "csv"
    as_of_s = (as_of.toordinal() - date(1970, 1, 1).toordinal()) * DAY

    # One independent stream per table: changing the event volume leaves accounts unchanged. Spawned streams
    # depend only on their position, so the lead stream (added last) left the others' data as it was.
    streams = np.random.default_rng(seed).spawn(10)
    acc_rng, blank_rng, rep_rng, owner_rng, opp_rng, con_rng, act_rng, mess_rng, tx_rng, lead_stream = streams
    acc = _account_traits(acc_rng, accounts)
    reps = _reps(rep_rng, accounts)
    owner = _assign_owners(owner_rng, acc, reps)
    opportunities, won = _opportunities(opp_rng, acc, owner, reps.ids, as_of_s, deals_per_account)
    transactions = _transactions(tx_rng, acc, opportunities, as_of_s)
    contacts, n_contacts = _contacts(con_rng, acc, as_of_s)
    accounts_table = _accounts_table(blank_rng, acc, owner, won, reps.ids, as_of_s)

    if messy:
        accounts_table = _mess_accounts(mess_rng, accounts_table, acc)
        opportunities = _mess_opportunities(mess_rng, opportunities)
    _write(accounts_table, data_dir / f"accounts.{fmt}", fmt)
    _write(contacts, data_dir / f"contacts.{fmt}", fmt)
    _write(reps.table, data_dir / f"reps.{fmt}", fmt)
    _write(opportunities, data_dir / f"opportunities.{fmt}", fmt)
    _write(transactions, data_dir / f"transactions.{fmt}", fmt)
    _write_activities(act_rng, mess_rng if messy else None, acc, contacts["contact_id"].combine_chunks(), n_contacts,
                      as_of_s, events_per_account, data_dir / f"activities.{fmt}", fmt)

    del accounts_table, contacts, opportunities, transactions  # written: free them before the leads

    # Leads: the people, then their events; each part (and its mess) with its own stream.
    lead_rng, lead_event_rng, lead_mess_rng, lead_event_mess_rng = lead_stream.spawn(4)
    people = _leads(lead_rng, acc, n_leads, as_of_s)
    leads_table = _mess_leads(lead_mess_rng, people.table) if messy else people.table
    _write(leads_table, data_dir / f"leads.{fmt}", fmt)
    _write_lead_activities(lead_event_rng, lead_event_mess_rng if mess else None, messy, people, as_of_s,
                           events_per_lead, data_dir / f"lead_activities.{fmt}", fmt)

    spec_path = out_dir / "spec.yaml"
    sdrs = reps.ids.filter(pa.array(reps.role == ROLES.index("sdr"))).to_pylist()
    spec_path.write_text(_spec_text(as_of, fmt, sdrs), encoding="utf-8")
    return spec_path


# The starter's SDR pool (the SDRs of the 5,000-account demo); the demo spec lists its own SDRs instead.
STARTER_SDR_POOL = "[R0004, R0009, R0014, R0019]"
SDR_POOL_SIZE = 12  # at most this many SDRs in the demo's pool


def _spec_text(as_of: date, fmt: str, sdrs: list[str] | None = None) -> str:
    text = files("tierwise.spec").joinpath("starter.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^name: .*$", "name: demo", text, count=1, flags=re.M)
    text = re.sub(r"^(engine: .*\n)", rf"\g<1>as_of: {as_of.isoformat()}\n", text, count=1, flags=re.M)
    text = text.replace("    path: data/reps.csv\n", "    path: data/reps.csv\n  transactions:\n    path: data/transactions.csv\n")
    # the demo's order_id is the won deal, so each yearly invoice (a renewal) counts as a purchase
    text = re.sub(r"^  frequency: auto .*$", "  frequency: transactions    # each invoice, renewals included, is a purchase",
                  text, count=1, flags=re.M)
    if sdrs:
        text = text.replace(STARTER_SDR_POOL, "[" + ", ".join(sdrs[:SDR_POOL_SIZE]) + "]")
    return text.replace(".csv", ".parquet") if fmt == "parquet" else text


# --------------------------------------------------------------------------- helpers


def _choice(rng: np.random.Generator, weights: np.ndarray | list[float], size: int) -> np.ndarray:
    """Categorical draws by inverse CDF: much faster than ``rng.choice`` with ``p``."""
    cdf = np.cumsum(np.asarray(weights, dtype=float))
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(size), side="right")


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded number, built in Arrow (no Python string per row)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _take(values: tuple[str | None, ...] | list[str | None], index: np.ndarray,
          mask: np.ndarray | None = None) -> pa.Array:
    """``values[index]`` as an Arrow string array; null where ``mask``."""
    return pa.array(values, pa.string()).take(pa.array(index, mask=mask))


def _timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds, pa.timestamp("s"))


def _dates(days: np.ndarray) -> pa.Array:
    """Dates from days since 1970-01-01."""
    return pa.array(days.astype(np.int32), pa.date32())


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Start of each group in a flat array grouped by ``counts``."""
    return np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)


def _within(rng: np.random.Generator, group: np.ndarray, offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """A uniformly chosen member of each ``group`` from a flat array grouped by ``counts``."""
    return offsets[group] + (rng.random(len(group)) * counts[group]).astype(np.int64)


def _width(n: int) -> int:
    # One spare digit: the broken rows and unknown accounts are numbered past the real ones.
    return max(6, len(str(n)) + 1)


# --------------------------------------------------------------------------- accounts


@dataclass
class _Accounts:
    ids: pa.Array
    name: pa.Array
    domain: pa.Array  # always set; the accounts file leaves some empty so the website is used
    employees: np.ndarray
    revenue: np.ndarray
    growth: np.ndarray
    industry: np.ndarray
    location: np.ndarray
    tech: pa.Array
    business_units: np.ndarray
    fit: np.ndarray  # latent, 0-1
    intent: np.ndarray  # latent, 0-1
    created_before: np.ndarray  # seconds before as_of
    updated_before: np.ndarray
    width: int
    head: np.ndarray  # the name's parts: NAME_HEADS, NAME_TAILS and NAME_SUFFIXES indices
    tail: np.ndarray
    suffix: np.ndarray

    @property
    def n(self) -> int:
        return len(self.employees)


def _account_traits(rng: np.random.Generator, n: int) -> _Accounts:
    industry = _choice(rng, [w for *_, w in INDUSTRIES], n)
    # Log-normal head counts: most companies are small, a few are huge.
    employees = np.clip(np.rint(np.exp(rng.normal(np.log(40), 1.7, n))), 1, 200_000).astype(np.int64)
    per_employee = np.exp(rng.uniform(np.log(1e5), np.log(4e5), n) + rng.normal(0, 0.25, n))
    revenue = np.round(employees * per_employee, -3)
    growth = np.round(np.clip(rng.normal(0.1, 0.25, n), -0.9, 3.0), 3)
    country = _choice(rng, [c[1] for c in COUNTRIES], n)
    codes = [loc[0] for loc in LOCATIONS]
    loc_count = np.array([codes.count(c[0]) for c in COUNTRIES])
    location = _within(rng, country, _offsets(loc_count), loc_count)
    business_units = np.clip(1 + rng.exponential(0.4 + 0.5 * np.log10(employees)).astype(np.int64), 1, 20)

    # Latent fit mirrors the spec's criteria: size 10, industry 10, tech 10, geography 5, complexity 5 of 40.
    size = np.clip(np.log10(employees) / 3, 0, 1)
    industry_share = np.array([s for _, s, _ in INDUSTRIES])[industry]
    favoured_country = np.array([c[3] for c in COUNTRIES])[country]
    base_fit = (10 * size + 10 * industry_share + 5 * favoured_country + 5 * (business_units >= 3)) / 40
    tech, spec_tech = _tech_stacks(rng, employees, base_fit)
    fit = np.clip(base_fit + 10 * np.minimum(1, spec_tech / 3) / 40 + rng.normal(0, 0.08, n), 0, 1)
    intent = np.clip(rng.beta(0.5, 2.5, n) * (0.6 + 0.8 * fit), 0, 1)

    heads = rng.integers(0, len(NAME_HEADS), n)
    tails = rng.integers(0, len(NAME_TAILS), n)
    suffix = _choice(rng, [w for _, w in NAME_SUFFIXES], n)
    name = pc.binary_join_element_wise(
        _take(NAME_HEADS, heads), " ", _take(NAME_TAILS, tails), _take([s for s, _ in NAME_SUFFIXES], suffix), ""
    )
    # The account number makes every domain unique; 40% use the country's domain suffix.
    tld = np.where(rng.random(n) < 0.4, country, 0)
    domain = pc.binary_join_element_wise(
        _take([h.lower() for h in NAME_HEADS], heads), "-", pc.cast(pa.array(np.arange(1, n + 1)), pa.string()),
        _take([c[2] for c in COUNTRIES], tld), "",
    )

    updated_before = np.where(
        rng.random(n) < 0.15,
        rng.integers(43 * DAY, 730 * DAY, n),  # stale: last refreshed more than six weeks ago
        rng.integers(60, 42 * DAY, n),
    )
    created_before = updated_before + rng.integers(0, 3650 * DAY, n)
    width = _width(n)
    return _Accounts(
        ids=_ids("A", np.arange(1, n + 1), width), name=name, domain=domain, employees=employees, revenue=revenue,
        growth=growth, industry=industry, location=location, tech=tech, business_units=business_units, fit=fit,
        intent=intent, created_before=created_before, updated_before=updated_before, width=width,
        head=heads, tail=tails, suffix=suffix,
    )


def _tech_stacks(rng: np.random.Generator, employees: np.ndarray, base_fit: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """0-6 distinct technologies per account, favoured ones likelier for well-fitting accounts.

    Returns the list array (sometimes odd spellings) and how many of the spec's technologies each holds.
    """
    n, k = len(employees), len(TECH)
    count = np.clip(rng.poisson(0.8 + 0.4 * np.log10(employees) + 1.5 * base_fit), 0, 6)
    weights = np.ones((n, k), dtype=np.float32)
    weights[:, :SPEC_TECH] = (0.3 + 2.5 * base_fit)[:, None]
    # Sampling without replacement by weight: the smallest exponential(1)/weight keys win.
    order = np.argsort(rng.standard_exponential((n, k), dtype=np.float32) / weights, axis=1)
    chosen = order[np.arange(k)[None, :] < count[:, None]]  # row-major: each account's picks stay together
    spec_tech = np.bincount(np.repeat(np.arange(n), count), weights=chosen < SPEC_TECH, minlength=n)
    spelled = chosen * 2 + (rng.random(len(chosen)) < 0.1)
    names = [v for pair in TECH for v in pair]
    offsets = np.concatenate(([0], np.cumsum(count))).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), _take(names, spelled)), spec_tech


def _accounts_table(rng: np.random.Generator, acc: _Accounts, owner: np.ndarray, won: np.ndarray, rep_ids: pa.Array,
                    as_of_s: int) -> pa.Table:
    n = acc.n

    def blank(share: float) -> np.ndarray:  # optional fields left empty, as in real CRM exports
        return rng.random(n) < share

    scheme = _choice(rng, [80, 10, 10], n)  # https://www., http://, bare www.
    website = pc.binary_join_element_wise(_take(("https://www.", "http://", "www."), scheme), acc.domain, "")
    funding = np.clip(np.floor(np.log10(acc.employees) * 1.5 + rng.normal(0, 0.8, n)), 0, len(FUNDING_STAGES) - 1)
    # Subsidiaries point at one of the largest accounts (never themselves).
    big = np.flatnonzero(acc.employees >= np.quantile(acc.employees, 0.99))
    parent = big[rng.integers(0, len(big), n)]
    has_parent = (rng.random(n) < 0.03) & (parent != np.arange(n))
    is_customer = won | (rng.random(n) < 0.02)
    return pa.table({
        "account_id": acc.ids,
        "name": acc.name,
        "domain": pc.if_else(pa.array(blank(0.1)), pa.scalar(None, pa.string()), acc.domain),
        "website": website,
        "industry": _take([i[0] for i in INDUSTRIES], acc.industry),
        "employees": pa.array(acc.employees, mask=blank(0.02)),
        "annual_revenue": pa.array(acc.revenue, mask=blank(0.03)),
        "revenue_growth": pa.array(acc.growth, mask=blank(0.1)),
        "country": _take([loc[0] for loc in LOCATIONS], acc.location),
        "region": _take(REGIONS, LOCATION_REGION[acc.location]),
        "state": _take([loc[1] for loc in LOCATIONS], acc.location),
        "city": _take([loc[2] for loc in LOCATIONS], acc.location),
        "business_units": pa.array(acc.business_units),
        "tech_stack": acc.tech,
        "funding_stage": _take(FUNDING_STAGES, funding.astype(np.int64), mask=blank(0.4)),
        "owner_id": rep_ids.take(pa.array(owner, mask=owner < 0)),
        "parent_account_id": acc.ids.take(pa.array(parent, mask=~has_parent)),
        "is_customer": pa.array(is_customer),
        "created_at": _timestamps(as_of_s - acc.created_before),
        "updated_at": _timestamps(as_of_s - acc.updated_before),
    })


# --------------------------------------------------------------------------- reps


@dataclass
class _Reps:
    table: pa.Table
    ids: pa.Array
    role: np.ndarray
    region: np.ndarray


def _reps(rng: np.random.Generator, accounts: int) -> _Reps:
    n = max(MIN_REPS, accounts // 250)
    role = ROLE_CYCLE[np.arange(n) % len(ROLE_CYCLE)]
    # the k-th rep of a role covers region k mod 5 (largest regions first): no regional team is left empty
    rank = np.zeros(n, dtype=np.int64)
    for r in range(len(ROLES)):
        mine = role == r
        rank[mine] = np.arange(int(mine.sum()))
    region = REP_REGION_ORDER[rank % len(REP_REGION_ORDER)]
    low, high = np.array(ROLE_CAPACITY).T
    capacity = rng.integers(low[role], high[role])
    first, last = rng.integers(0, len(FIRST_NAMES), n), rng.integers(0, len(LAST_NAMES), n)
    number = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    ids = _ids("R", np.arange(1, n + 1), max(4, len(str(n))))
    manager = np.arange(n) // REP_TEAM * REP_TEAM
    table = pa.table({
        "rep_id": ids,
        "name": pc.binary_join_element_wise(_take(FIRST_NAMES, first), _take(LAST_NAMES, last), " "),
        "email": pc.binary_join_element_wise(
            _take([f.lower() for f in FIRST_NAMES], first), ".", _take([s.lower() for s in LAST_NAMES], last),
            number, "@sales.tierwise-demo.com", "",
        ),
        "role": _take(ROLES, role),
        "region": _take(REGIONS, region),
        "capacity": pa.array(capacity),
        # 5% inactive (the planner moves their accounts), but never a region's first rep of a role
        "active": pa.array((rng.random(n) >= 0.05) | (rank < len(REP_REGION_ORDER))),
        "manager_id": ids.take(pa.array(manager, mask=manager == np.arange(n))),
        "specialisation": pa.nulls(n, type=pa.list_(pa.string())),  # territories: none specialise in the demo
    })
    return _Reps(table, ids, role, region)


def _assign_owners(rng: np.random.Generator, acc: _Accounts, reps: _Reps) -> np.ndarray:
    """Owner rep index per account (-1 when unowned): a rep of the size's role, in the region when possible."""
    want = np.where(acc.employees >= 1000, 0, np.where(acc.employees >= 100, 1, 2))
    n_regions = len(REGIONS)
    by_cell = np.argsort(reps.role * n_regions + reps.region, kind="stable")
    cell_count = np.bincount(reps.role * n_regions + reps.region, minlength=len(ROLES) * n_regions)
    by_role = np.argsort(reps.role, kind="stable")
    role_count = np.bincount(reps.role, minlength=len(ROLES))
    cell = want * n_regions + LOCATION_REGION[acc.location]
    owner = by_role[_within(rng, want, _offsets(role_count), role_count)]  # ROLE_CYCLE covers every role
    staffed = cell_count[cell] > 0
    owner[staffed] = by_cell[_within(rng, cell[staffed], _offsets(cell_count), cell_count)]
    return np.where(rng.random(acc.n) < 0.05, -1, owner)


# --------------------------------------------------------------------------- opportunities


def _opportunities(rng: np.random.Generator, acc: _Accounts, owner: np.ndarray, rep_ids: pa.Array,
                   as_of_s: int, per_account: float) -> tuple[pa.Table, np.ndarray]:
    """``per_account`` deals per account on average over two years; returns the table and which accounts won one."""
    rate = (0.2 + acc.fit + acc.intent) * (1 + 0.2 * np.log10(acc.employees))
    count = rng.poisson(per_account * rate / rate.mean())
    a = np.repeat(np.arange(acc.n), count)
    m = len(a)
    age = rng.integers(0, 730, m)  # days since created
    age = age[np.lexsort((-age, a))]  # rows in account, then creation order
    emp = acc.employees[a]
    cycle = np.clip(np.rint(20 + 150 * rng.beta(2, 4, m) + 15 * np.log10(emp)), 20, 200).astype(np.int64)
    due = age >= cycle
    # A fifth of the deals that should have closed by now slipped and are still open.
    closed = due & (rng.random(m) < 0.8)
    p_win = 1 / (1 + np.exp(-(-4.0 + 4.0 * acc.fit[a] + 3.0 * acc.intent[a])))
    won = closed & (rng.random(m) < p_win)
    close_age = np.where(closed | ~due, age - cycle, -rng.integers(7, 91, m))  # negative: expected, after as_of
    changed_age = np.where(closed, close_age, (rng.random(m) * (age + 1)).astype(np.int64))
    # Open deals advance with their cycle; slipped ones stall at any stage.
    progress = np.where(due, rng.random(m), age / cycle)
    stage = np.where(closed, np.where(won, 4, 5), (progress * len(OPEN_STAGES)).astype(np.int64))
    amount = np.maximum(1000, np.round(2000 * emp**0.55 * np.exp(rng.normal(0, 0.4, m)), -2))
    product = _choice(rng, [w for _, w in PRODUCTS], m)

    as_of_day = as_of_s // DAY
    products = _take([p for p, _ in PRODUCTS], product)
    table = pa.table({
        "opportunity_id": _ids("O", np.arange(1, m + 1), max(6, len(str(m)))),
        "account_id": acc.ids.take(pa.array(a)),
        "name": pc.binary_join_element_wise(acc.name.take(pa.array(a)), products, " - "),
        "stage": _take((*OPEN_STAGES, "Closed Won", "Closed Lost"), stage),
        "amount": pa.array(amount),
        "created_at": _dates(as_of_day - age),
        "closed_at": _dates(as_of_day - close_age),
        "is_closed": pa.array(closed),
        "is_won": pa.array(won),
        "owner_id": rep_ids.take(pa.array(owner[a], mask=owner[a] < 0)),
        "stage_changed_at": _dates(as_of_day - changed_age),
        "product": products,
    })
    return table, np.bincount(a, weights=won, minlength=acc.n) > 0


# --------------------------------------------------------------------------- transactions


def _transactions(rng: np.random.Generator, acc: _Accounts, opportunities: pa.Table, as_of_s: int) -> pa.Table:
    """Yearly invoices for every won deal: the first at close, one per anniversary before ``as_of`` while
    the customer renews (likelier the better it fits), each a little larger or smaller than the last."""
    won = opportunities["is_won"].to_numpy(zero_copy_only=False)
    closed_day = opportunities["closed_at"].cast(pa.int32()).to_numpy(zero_copy_only=False)[won].astype(np.int64)
    amount = opportunities["amount"].to_numpy(zero_copy_only=False)[won]
    account = pc.index_in(opportunities["account_id"], acc.ids).to_numpy(zero_copy_only=False)[won].astype(np.int64)
    order = opportunities["opportunity_id"].filter(pa.array(won))
    years = (as_of_s // DAY - 1 - closed_day) // 365 + 1  # invoices due before as_of if every renewal happens
    p_renew = np.clip(0.55 + 0.4 * acc.fit[account], 0, 0.97)
    # Renewals stop at the first churn: a geometric number of paid years, capped by the years elapsed.
    paid = np.minimum(years, rng.geometric(1 - p_renew))
    k = np.repeat(np.arange(len(paid)), paid)
    year = np.arange(len(k)) - np.repeat(np.cumsum(paid) - paid, paid)
    growth = np.exp(rng.normal(0.04 + 0.15 * (acc.fit[account[k]] - 0.5), 0.12, len(k)) * year)
    m = len(k)
    return pa.table({
        "transaction_id": _ids("T", np.arange(1, m + 1), max(6, len(str(m)))),
        "account_id": acc.ids.take(pa.array(account[k])),
        "order_id": order.take(pa.array(k)),
        "occurred_at": _dates(closed_day[k] + 365 * year),
        "amount": pa.array(np.round(amount[k] * growth, 2)),
    })


# --------------------------------------------------------------------------- contacts


def _contacts(rng: np.random.Generator, acc: _Accounts, as_of_s: int) -> tuple[pa.Table, np.ndarray]:
    """One to five people per account (larger companies more); returns the table and the count per account."""
    count = np.minimum(5, 1 + _choice(rng, [30, 27, 20, 13, 10], acc.n) + (acc.employees >= 1000))
    a = np.repeat(np.arange(acc.n), count)
    m = len(a)
    first, last = rng.integers(0, len(FIRST_NAMES), m), rng.integers(0, len(LAST_NAMES), m)
    title = _choice(rng, [t[3] for t in TITLES], m)
    # Seconds before as_of: after the account was created, and updated after that.
    created_before = 60 + ((acc.created_before[a] - 60) * rng.random(m)).astype(np.int64)
    updated_before = 30 + ((created_before - 30) * rng.random(m)).astype(np.int64)
    table = pa.table({
        "contact_id": _ids("C", np.arange(1, m + 1), max(7, len(str(m)))),
        "account_id": acc.ids.take(pa.array(a)),
        "email": pc.binary_join_element_wise(
            _take([f.lower() for f in FIRST_NAMES], first), ".", _take([s.lower() for s in LAST_NAMES], last),
            "@", acc.domain.take(pa.array(a)), "",
        ),
        "first_name": _take(FIRST_NAMES, first),
        "last_name": _take(LAST_NAMES, last),
        "title": _take([t[0] for t in TITLES], title),
        "seniority": _take([t[1] for t in TITLES], title),
        "persona": _take([t[2] for t in TITLES], title),
        "created_at": _timestamps(as_of_s - created_before),
        "updated_at": _timestamps(as_of_s - updated_before),
    })
    return table, count


# --------------------------------------------------------------------------- activities

EVENT_COLD = np.array([e.cold_weight for e in EVENT_TYPES])
EVENT_HOT = np.array([e.hot_weight for e in EVENT_TYPES])
EVENT_CONTACT_SHARE = np.array([e.contact_share for e in EVENT_TYPES])
DETAIL_COUNT = np.array([len(e.details) for e in EVENT_TYPES])
DETAILS = [d for e in EVENT_TYPES for d in e.details]
SPELLINGS = [v for e in EVENT_TYPES for v in (e.name, e.name.title())]


def _write_activities(rng: np.random.Generator, mess_rng: np.random.Generator | None, acc: _Accounts,
                      contact_ids: pa.Array, n_contacts: np.ndarray, as_of_s: int, per_account: float,
                      path: Path, fmt: str) -> None:
    """Generate and write events in batches of whole accounts, each sorted by account and time."""
    n = acc.n
    # Gamma-mixed Poisson counts: heavy-tailed, higher for in-market and larger accounts.
    rate = rng.gamma(0.6, 1 / 0.6, n) * (1 + 4 * acc.intent) * (1 + 0.3 * np.log10(acc.employees))
    count = rng.poisson(per_account * rate / rate.mean())
    total = int(count.sum())
    cum = np.cumsum(count)
    # Batches end at the first account reaching each multiple of EVENT_CHUNK events.
    cuts = np.searchsorted(cum, np.arange(EVENT_CHUNK, total, EVENT_CHUNK)) + 1
    bounds = np.unique(np.concatenate(([0], cuts, [n])))
    no_rows = np.empty(0, np.int64)
    bad_account, bad_time = _bad_activity_rows(mess_rng, total) if mess_rng is not None else (no_rows, no_rows)
    contact_offsets = _offsets(n_contacts)
    id_width = max(8, len(str(total)))
    with _Writer(path, fmt) as writer:
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            start = int(cum[lo - 1]) if lo else 0
            batch = _activity_batch(rng, acc, lo, hi, count, contact_ids, contact_offsets, n_contacts, as_of_s,
                                    start, id_width, fmt)
            if mess_rng is not None:
                batch = _mess_activities(mess_rng, batch, bad_account, bad_time, start, n, acc.width)
            writer.write(batch)


def _activity_batch(rng: np.random.Generator, acc: _Accounts, lo: int, hi: int, count: np.ndarray,
                    contact_ids: pa.Array, contact_offsets: np.ndarray, n_contacts: np.ndarray, as_of_s: int,
                    start: int, id_width: int, fmt: str) -> pa.Table:
    a = np.repeat(np.arange(lo, hi), count[lo:hi])
    m = len(a)
    intent = acc.intent[a]
    hot = rng.random(m) < intent  # an in-market draw: the mix leans to scored events
    kind = np.where(hot, _choice(rng, EVENT_HOT, m), _choice(rng, EVENT_COLD, m))
    # In-market events cluster in recent weeks (more so the higher the intent); the rest spread over the year.
    recent = np.minimum(rng.exponential((15 + 60 * (1 - intent)) * DAY), 365 * DAY - 1)
    before = np.where(hot, recent, rng.uniform(0, 365 * DAY, m)).astype(np.int64) + 1
    before = np.where(rng.random(m) < FUTURE_SHARE, -rng.integers(DAY, 10 * DAY, m), before)
    order = np.lexsort((-before, a))  # rows in account, then time order
    kind, occurred = kind[order], as_of_s - before[order]
    has_contact = rng.random(m) < EVENT_CONTACT_SHARE[kind]
    contact = _within(rng, a, contact_offsets, n_contacts)
    detail = _within(rng, kind, _offsets(DETAIL_COUNT), DETAIL_COUNT)
    spelling = kind * 2 + (rng.random(m) < MIXED_CASE_SHARE)
    occurred_at = _timestamps(occurred)
    return pa.table({
        "activity_id": _ids("E", np.arange(start + 1, start + m + 1), id_width),
        "account_id": acc.ids.take(pa.array(a)),
        "contact_id": contact_ids.take(pa.array(contact, mask=~has_contact)),
        "event_type": _take(SPELLINGS, spelling),
        # CSV keeps timestamps as text so a broken one can sit in the same column
        "occurred_at": pc.cast(occurred_at, pa.string()) if fmt == "csv" else occurred_at,
        "source": _take([e.source for e in EVENT_TYPES], kind),
        "detail": _take(DETAILS, detail),
    })


# --------------------------------------------------------------------------- leads

HOUR = 3_600  # seconds
COUNTRY_CODES = [c[0] for c in COUNTRIES]
LOCATION_COUNTRY = np.array([COUNTRY_CODES.index(loc[0]) for loc in LOCATIONS])


@dataclass
class _Leads:
    table: pa.Table
    ids: pa.Array
    heat: np.ndarray  # latent, 0-1: how in-market the person is
    created_before: np.ndarray  # seconds before as_of
    width: int

    @property
    def n(self) -> int:
        return len(self.heat)


def _leads(rng: np.random.Generator, acc: _Accounts, n: int, as_of_s: int) -> _Leads:
    """``n`` leads: where they work, how they typed it, and how hot they are (see :func:`generate_workspace`)."""
    # Employer: an account (in-market and larger ones send more leads), a competitor or a company the CRM lacks.
    employer = rng.random(n)
    at_account = employer < LEAD_AT_ACCOUNT
    at_competitor = employer >= 1 - LEAD_AT_COMPETITOR
    a = _choice(rng, (0.3 + acc.intent) * (1 + 0.3 * np.log10(acc.employees)), n)  # read where at_account
    heat = np.where(
        at_account,
        np.clip(0.35 * rng.beta(0.6, 2.4, n) + 0.6 * acc.intent[a] + 0.25 * acc.fit[a] - 0.1, 0, 1),
        0.6 * rng.beta(0.6, 2.4, n),
    )
    competitor = rng.integers(0, len(COMPETITORS), n)
    country = np.where(at_account, LOCATION_COUNTRY[acc.location[a]], _choice(rng, [c[1] for c in COUNTRIES], n))

    # Company name, as typed: built from name parts (first word, " tail", legal form) so no row is a Python string.
    other_head, other_tail = rng.integers(0, len(OTHER_HEADS), n), rng.integers(0, len(OTHER_TAILS), n)
    other_suffix = _choice(rng, [w for _, w in NAME_SUFFIXES], n)
    variant = np.where(at_account, _choice(rng, NAME_VARIANTS, n), NAME_EXACT)
    typo, form = rng.integers(0, 3, n), rng.integers(0, len(OTHER_LEGAL_FORMS), n)
    heads = (*NAME_HEADS, *TYPO_HEADS, *OTHER_HEADS, *(c for c, _ in COMPETITORS))
    other_at, competitor_at = len(NAME_HEADS) + len(TYPO_HEADS), len(heads) - len(COMPETITORS)
    head = np.where(
        at_account,
        np.where(variant == NAME_TYPO, len(NAME_HEADS) + 3 * acc.head[a] + typo, acc.head[a]),
        np.where(at_competitor, competitor_at + competitor, other_at + other_head),
    )
    tails = ("", *(" " + t for t in NAME_TAILS), *(" " + t for t in OTHER_TAILS))
    tail = np.where(
        at_account, np.where(variant == NAME_HEAD_ONLY, 0, 1 + acc.tail[a]),
        np.where(at_competitor, 0, 1 + len(NAME_TAILS) + other_tail),
    )
    suffixes = (*(s for s, _ in NAME_SUFFIXES), *OTHER_LEGAL_FORMS)  # NAME_SUFFIXES[0] is ""
    suffix = np.select(
        [~at_account, variant == NAME_OTHER_FORM, (variant == NAME_BARE) | (variant == NAME_HEAD_ONLY)],
        [np.where(at_competitor, 0, other_suffix), len(NAME_SUFFIXES) + form, 0], acc.suffix[a],
    )
    company = pc.binary_join_element_wise(_take(heads, head), _take(tails, tail), _take(suffixes, suffix), "")
    company = pc.if_else(pa.array(variant == NAME_UPPER), pc.utf8_upper(company), company)
    company = pc.if_else(pa.array(variant == NAME_LOWER), pc.utf8_lower(company), company)
    company = pc.if_else(pa.array(rng.random(n) < LEAD_NO_COMPANY), pa.scalar(None, pa.string()), company)

    # The company's domain; a few people write from a subdomain (mail.acme.com).
    tld = np.where(rng.random(n) < 0.4, country, 0)
    other_domain = pc.binary_join_element_wise(
        _take([h.lower() for h in OTHER_HEADS], other_head), _take([t.lower() for t in OTHER_TAILS], other_tail),
        _take([c[2] for c in COUNTRIES], tld), "",
    )
    account_domain = acc.domain.take(pa.array(a))
    site_domain = pc.if_else(pa.array(at_account), account_domain, pc.if_else(
        pa.array(at_competitor), _take([d for _, d in COMPETITORS], competitor), other_domain))
    subdomain = _take(("", "mail.", "eu.", "us."), _choice(rng, [97, 1, 1, 1], n))
    mail_domain = pc.if_else(pa.array(at_account), pc.binary_join_element_wise(subdomain, account_domain, ""),
                             site_domain)

    # Email: jane.smith@, jsmith@ or jane@ the company; personal (jane.smith42@gmail.com) or malformed for some.
    kind = rng.random(n)
    personal = (kind < LEAD_PERSONAL) & ~at_competitor
    malformed = (kind >= LEAD_PERSONAL) & (kind < LEAD_PERSONAL + LEAD_MALFORMED)
    how = rng.integers(0, 4, n)  # malformed: no @, two @, no dot in the domain, a space in the name
    style = np.where(personal | (malformed & (how == 3)), 0, _choice(rng, [60, 25, 15], n))
    first, last = rng.integers(0, len(FIRST_NAMES), n), rng.integers(0, len(LAST_NAMES), n)
    first_parts = (*(f.lower() for f in FIRST_NAMES), *(f[0].lower() for f in FIRST_NAMES))
    number = pc.cast(pa.array(rng.integers(1, 100, n)), pa.string())
    digits = pc.if_else(pa.array(personal & (rng.random(n) < 0.4)), number, "")
    domain = pc.if_else(pa.array(personal), _take([d for d, _ in PERSONAL_MAIL], _choice(
        rng, [w for _, w in PERSONAL_MAIL], n)), mail_domain)
    domain = pc.if_else(pa.array(malformed & (how == 2)), pc.replace_substring(domain, ".", ""), domain)
    email = pc.binary_join_element_wise(
        _take(first_parts, np.where(style == 1, len(FIRST_NAMES) + first, first)),
        _take(("", ".", " "), np.where(style == 0, np.where(malformed & (how == 3), 2, 1), 0)),
        _take(("", *(s.lower() for s in LAST_NAMES)), np.where(style == 2, 0, 1 + last)),
        digits,
        _take(("@", "", "@@"), np.where(malformed & (how < 2), 1 + how, 0)),
        domain, "",
    )
    scheme = _take(("https://www.", "www.", "http://"), _choice(rng, [60, 30, 10], n))
    website = pc.if_else(pa.array(rng.random(n) < 0.25), pc.binary_join_element_wise(scheme, site_domain, ""),
                         pa.scalar(None, pa.string()))

    # Title, seniority and persona from the contacts' table; persona often empty (the spec derives it).
    title = _choice(rng, [t[3] for t in TITLES], n)
    title_text = _take([t[0] for t in TITLES], title)
    title_text = pc.if_else(pa.array(rng.random(n) < 0.05), pc.utf8_lower(title_text), title_text)

    # Size and industry as entered: mostly the account's (sometimes rounded or left out), else a small company's.
    stated = acc.employees[a]
    magnitude = 10 ** np.floor(np.log10(stated))
    stated = np.where(rng.random(n) < 0.25, np.maximum(1, np.round(stated / magnitude) * magnitude), stated)
    other_size = np.clip(np.rint(np.exp(rng.normal(np.log(20), 1.5, n))), 1, 50_000)
    employees = np.where(at_account, stated, other_size).astype(np.int64)
    industry = np.where(at_account, acc.industry[a],
                        np.where(at_competitor, 0, _choice(rng, [w for *_, w in INDUSTRIES], n)))
    blank = rng.random((5, n))  # employees, industry, country, seniority, persona
    source = np.where(rng.random(n) < heat, _choice(rng, LEAD_SOURCE_HOT, n), _choice(rng, LEAD_SOURCE_COLD, n))
    status = _choice(rng, [w for _, w in LEAD_STATUSES], n)
    created_before = rng.integers(HOUR, LEAD_MONTHS * 30 * DAY, n)
    updated_before = 30 + ((created_before - 30) * rng.random(n)).astype(np.int64)
    width = _width(n)
    ids = _ids("L", np.arange(1, n + 1), width)
    table = pa.table({
        "lead_id": ids,
        "email": email,
        "company": company,
        "website": website,
        "title": title_text,
        "seniority": _take([t[1] for t in TITLES], title, mask=blank[3] < 0.1),
        "persona": _take([t[2] for t in TITLES], title, mask=blank[4] < LEAD_PERSONA_BLANK),
        "country": _take(COUNTRY_CODES, country, mask=blank[2] < 0.05),
        "employees": pa.array(employees, mask=blank[0] < np.where(at_account, 0.1, 0.15)),
        "industry": _take([i[0] for i in INDUSTRIES], industry, mask=blank[1] < np.where(at_account, 0.15, 0.2)),
        "lead_source": _take(LEAD_SOURCES, source),
        "status": _take([s for s, _ in LEAD_STATUSES], status),
        "created_at": _timestamps(as_of_s - created_before),
        "updated_at": _timestamps(as_of_s - updated_before),
    })
    return _Leads(table, ids, heat, created_before, width)


LEAD_EVENT_TYPES = tuple(e for e in EVENT_TYPES if e.name in LEAD_EVENT_NAMES)  # same mixes as account events
LEAD_EVENT_COLD = np.array([e.cold_weight for e in LEAD_EVENT_TYPES])
LEAD_EVENT_HOT = np.array([e.hot_weight for e in LEAD_EVENT_TYPES])
LEAD_DETAIL_COUNT = np.array([len(e.details) for e in LEAD_EVENT_TYPES])
LEAD_DETAILS = [d for e in LEAD_EVENT_TYPES for d in e.details]
LEAD_SPELLINGS = [v for e in LEAD_EVENT_TYPES for v in (e.name, e.name.title())]


def _write_lead_activities(rng: np.random.Generator, mess_rng: np.random.Generator | None, messy: bool,
                           people: _Leads, as_of_s: int, per_lead: float, path: Path, fmt: str) -> None:
    """Generate and write lead events in batches of whole leads, each sorted by lead and time.

    With ``mess_rng``: a few events of unknown leads and after ``as_of``; ``messy`` adds unparsable timestamps.
    """
    n = people.n
    # Gamma-mixed Poisson counts: heavy-tailed, higher for hot leads.
    rate = rng.gamma(0.6, 1 / 0.6, n) * (1 + 4 * people.heat)
    count = rng.poisson(per_lead * rate / rate.mean()) if n else np.zeros(0, np.int64)
    total = int(count.sum())
    cum = np.cumsum(count)
    cuts = np.searchsorted(cum, np.arange(EVENT_CHUNK, total, EVENT_CHUNK)) + 1
    bounds = np.unique(np.concatenate(([0], cuts, [n])))
    batches = list(zip(bounds[:-1], bounds[1:], strict=True)) or [(0, 0)]  # no leads: an empty file
    no_rows = np.empty(0, np.int64)
    bad_lead, bad_time = no_rows, no_rows
    if mess_rng is not None and total:
        bad_lead, bad_time = _bad_activity_rows(mess_rng, total, BAD_LEAD_EVENT_SHARE)
        bad_time = bad_time if messy else no_rows
    id_width = max(8, len(str(total)))
    with _Writer(path, fmt) as writer:
        for lo, hi in batches:
            start = int(cum[lo - 1]) if lo else 0
            batch = _lead_activity_batch(rng, people, lo, hi, count, as_of_s, start, id_width, fmt,
                                         future=mess_rng is not None)
            if mess_rng is not None:
                batch = _mess_lead_activities(mess_rng, batch, bad_lead, bad_time, start, people)
            writer.write(batch)


def _lead_activity_batch(rng: np.random.Generator, people: _Leads, lo: int, hi: int, count: np.ndarray,
                         as_of_s: int, start: int, id_width: int, fmt: str, *, future: bool) -> pa.Table:
    p = np.repeat(np.arange(lo, hi), count[lo:hi])
    m = len(p)
    heat, lifetime = people.heat[p], people.created_before[p]
    hot = rng.random(m) < heat  # a hot draw: the mix leans to high-intent events
    kind = np.where(hot, _choice(rng, LEAD_EVENT_HOT, m), _choice(rng, LEAD_EVENT_COLD, m))
    # Events come after the lead was created: hot ones in recent days (the hotter, the more recent).
    recent = rng.exponential((7 + 50 * (1 - heat)) * DAY)
    before = np.maximum(1, np.where(hot, np.minimum(recent, lifetime), rng.random(m) * lifetime)).astype(np.int64)
    late = rng.random(m) < FUTURE_SHARE
    shift = rng.integers(DAY, 10 * DAY, m)
    if future:  # look-ahead bait, drawn either way so mess=False changes nothing else
        before = np.where(late, -shift, before)
    # Rows in lead, then time order: one stable sort of a packed key (lead, time) is ~10x faster than lexsort.
    age = before.max(initial=0) - before
    order = np.argsort((p << int(age.max(initial=0)).bit_length()) | age, kind="stable")
    kind, occurred = kind[order], as_of_s - before[order]
    detail = _within(rng, kind, _offsets(LEAD_DETAIL_COUNT), LEAD_DETAIL_COUNT)
    spelling = kind * 2 + (rng.random(m) < MIXED_CASE_SHARE)
    occurred_at = _timestamps(occurred)
    return pa.table({
        "activity_id": _ids("LE", np.arange(start + 1, start + m + 1), id_width),
        "lead_id": people.ids.take(pa.array(p)),
        "event_type": _take(LEAD_SPELLINGS, spelling),
        # CSV keeps timestamps as text so a broken one can sit in the same column
        "occurred_at": pc.cast(occurred_at, pa.string()) if fmt == "csv" else occurred_at,
        "source": _take([e.source for e in LEAD_EVENT_TYPES], kind),
        "detail": _take(LEAD_DETAILS, detail),
    })


# --------------------------------------------------------------------------- deliberate mess


def _mess_accounts(rng: np.random.Generator, table: pa.Table, acc: _Accounts) -> pa.Table:
    """Add broken account rows, each right after the row it was copied from.

    Kinds: a repeat of an existing account_id (the original stays first, so it
    loads), employees like "approx 200", a negative annual_revenue and an empty
    account_id. The last three get fresh ids so no other table refers to them.
    """
    n = acc.n
    k = max(1, round(n * BAD_ACCOUNT_SHARE))
    source = rng.integers(0, n, 4 * k)
    extra = table.take(pa.array(source))
    fresh = _ids("A", np.arange(n + 1, n + 2 * k + 1), acc.width)
    ids = pa.concat_arrays([extra["account_id"].combine_chunks()[:k], fresh, pa.array([""] * k)])
    approx = pc.binary_join_element_wise("approx ", pc.cast(pa.array(rng.integers(2, 50, k) * 10), pa.string()), "")
    negative = pc.cast(pa.array(-rng.integers(1, 1000, k) * 1000.0), pa.string())
    employees = pc.cast(extra["employees"], pa.string()).combine_chunks()
    revenue = pc.cast(extra["annual_revenue"], pa.string()).combine_chunks()
    extra = _replace_column(extra, "account_id", ids)
    extra = _replace_column(extra, "employees", pa.concat_arrays([employees[:k], approx, employees[2 * k:]]))
    extra = _replace_column(extra, "annual_revenue",
                            pa.concat_arrays([revenue[:2 * k], negative, revenue[3 * k:]]))
    table = _replace_column(table, "employees", pc.cast(table["employees"], pa.string()))
    table = _replace_column(table, "annual_revenue", pc.cast(table["annual_revenue"], pa.string()))
    order = np.argsort(np.concatenate((2 * np.arange(n), 2 * source + 1)), kind="stable")
    return pa.concat_tables([table, extra]).take(pa.array(order))


def _mess_opportunities(rng: np.random.Generator, table: pa.Table) -> pa.Table:
    m = table.num_rows
    if not m:
        return table
    amount = table["amount"].to_numpy().copy()
    amount[rng.choice(m, max(1, round(m * BAD_OPPORTUNITY_SHARE)), replace=False)] *= -1
    return _replace_column(table, "amount", pa.array(amount))


def _bad_activity_rows(rng: np.random.Generator, total: int,
                       share: float = BAD_ACTIVITY_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """Sorted row numbers of events to give an unknown account (or lead) and an unparsable timestamp."""
    k = min(max(1, round(total * share)), total // 2)
    rows = rng.choice(total, 2 * k, replace=False)
    return np.sort(rows[:k]), np.sort(rows[k:])


def _mess_activities(rng: np.random.Generator, batch: pa.Table, bad_account: np.ndarray, bad_time: np.ndarray,
                     start: int, n: int, width: int) -> pa.Table:
    end = start + batch.num_rows
    accounts = bad_account[(bad_account >= start) & (bad_account < end)] - start
    times = bad_time[(bad_time >= start) & (bad_time < end)] - start
    if len(accounts):
        # Events of accounts deleted from the CRM: ids past both the real and the broken account rows.
        unknown = _ids("A", 5 * n + rng.integers(1, n + 1, len(accounts)), width)
        batch = _replace_rows(batch, "account_id", accounts, unknown)
    if len(times):
        broken = _take(BAD_TIMESTAMPS, rng.integers(0, len(BAD_TIMESTAMPS), len(times)))
        batch = _replace_rows(batch, "occurred_at", times, broken)
    return batch


def _mess_leads(rng: np.random.Generator, table: pa.Table) -> pa.Table:
    """Repeat a few lead rows, each right after its original (which loads; the repeat is quarantined)."""
    n = table.num_rows
    if not n:
        return table
    source = rng.integers(0, n, max(1, round(n * BAD_LEAD_SHARE)))
    order = np.argsort(np.concatenate((2 * np.arange(n), 2 * source + 1)), kind="stable")
    return pa.concat_tables([table, table.take(pa.array(source))]).take(pa.array(order))


def _mess_lead_activities(rng: np.random.Generator, batch: pa.Table, bad_lead: np.ndarray, bad_time: np.ndarray,
                          start: int, people: _Leads) -> pa.Table:
    end = start + batch.num_rows
    leads = bad_lead[(bad_lead >= start) & (bad_lead < end)] - start
    times = bad_time[(bad_time >= start) & (bad_time < end)] - start
    if len(leads):
        # Events of leads deleted or merged away in the CRM: ids past every real lead.
        unknown = _ids("L", 5 * people.n + rng.integers(1, people.n + 1, len(leads)), people.width)
        batch = _replace_rows(batch, "lead_id", leads, unknown)
    if len(times):
        broken = _take(BAD_TIMESTAMPS, rng.integers(0, len(BAD_TIMESTAMPS), len(times)))
        batch = _replace_rows(batch, "occurred_at", times, broken)
    return batch


def _replace_rows(table: pa.Table, column: str, rows: np.ndarray, values: pa.Array) -> pa.Table:
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[rows] = True
    return _replace_column(table, column, pc.replace_with_mask(table[column].combine_chunks(), pa.array(mask), values))


def _replace_column(table: pa.Table, column: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, values)


# --------------------------------------------------------------------------- writing


class _Writer:
    """Writes a table in batches as CSV (lists joined with ';') or zstd Parquet."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = path, fmt
        self._writer: pacsv.CSVWriter | pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self.fmt == "csv":
            for i, f in enumerate(table.schema):
                if pa.types.is_list(f.type):
                    table = table.set_column(i, f.name, pc.binary_join(table[f.name], ";"))
            if self._writer is None:
                self._writer = pacsv.CSVWriter(self.path, table.schema)
            self._writer.write_table(table)
        else:
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._writer.write_table(table, row_group_size=ROW_GROUP)

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()


def _write(table: pa.Table, path: Path, fmt: str) -> None:
    with _Writer(path, fmt) as writer:
        writer.write(table)
