"""The canonical data model: the tables tierwise reads and their columns.

Loaders map CRM exports onto these tables (see :mod:`tierwise.io.presets`),
cast every column to its type, and quarantine the rows that fail a check.
``docs/data-model.md`` documents the same definitions for people.

Examples
--------
>>> from tierwise.datamodel import TABLES
>>> TABLES["accounts"].key
'account_id'
>>> TABLES["accounts"].columns["tech_stack"].dtype
'list'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DType = Literal["string", "int", "float", "bool", "date", "timestamp", "list", "domain", "email"]

#: Ibis type of each logical type. ``domain`` and ``email`` are normalised text.
IBIS_TYPES: dict[str, str] = {
    "string": "string",
    "domain": "string",
    "email": "string",
    "int": "int64",
    "float": "float64",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "list": "array<string>",
}


@dataclass(frozen=True)
class ColumnDef:
    name: str
    dtype: DType
    description: str
    required: bool = False
    min_value: float | None = None
    max_value: float | None = None
    lower: bool = False  # a code matched case-insensitively: stored trimmed and lower case


@dataclass(frozen=True)
class TableDef:
    name: str
    description: str
    key: str | None
    columns: dict[str, ColumnDef]
    references: dict[str, str] = field(default_factory=dict)  # column -> table it must exist in

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.required]


def _table(name: str, description: str, key: str | None, cols: list[ColumnDef],
           references: dict[str, str] | None = None) -> TableDef:
    return TableDef(name, description, key, {c.name: c for c in cols}, references or {})


C = ColumnDef

TABLES: dict[str, TableDef] = {
    "accounts": _table(
        "accounts",
        "One row per company (CRM account or target account).",
        "account_id",
        [
            C("account_id", "string", "Unique account key.", required=True),
            C("name", "string", "Company name."),
            C("domain", "domain", "Primary web domain, normalised (lower case, no scheme, no www.)."),
            C("website", "string", "Website URL as entered; used for the domain when domain is empty."),
            C("industry", "string", "Industry or sector."),
            C("employees", "int", "Number of employees.", min_value=0),
            C("annual_revenue", "float", "Annual revenue in the reporting currency.", min_value=0),
            C("revenue_growth", "float", "Year-over-year revenue growth as a fraction (0.2 = 20%).", min_value=-1),
            C("country", "string", "Headquarters country (ISO code or name)."),
            C("region", "string", "Sales region or territory."),
            C("state", "string", "State or province."),
            C("city", "string", "City."),
            C("business_units", "int", "Org complexity: business units, subsidiaries or locations.", min_value=0),
            C("tech_stack", "list", "Technologies in use: multi-valued, stored as a sorted list of lower-case names."),
            C("funding_stage", "string", "Latest funding stage (seed, series_a, ... public)."),
            C("owner_id", "string", "Current owner (rep_id)."),
            C("parent_account_id", "string", "Parent account in a hierarchy."),
            C("is_customer", "bool", "Whether the account is a paying customer."),
            C("created_at", "timestamp", "When the record was created."),
            C("updated_at", "timestamp", "When the record was last refreshed (staleness check)."),
        ],
    ),
    "contacts": _table(
        "contacts",
        "People at accounts.",
        "contact_id",
        [
            C("contact_id", "string", "Unique contact key.", required=True),
            C("account_id", "string", "Account the contact works at."),
            C("email", "email", "Email address, lower case."),
            C("first_name", "string", "First name."),
            C("last_name", "string", "Last name."),
            C("title", "string", "Job title."),
            C("seniority", "string", "Seniority level (c_level, vp, director, manager, individual)."),
            C("persona", "string", "Buying-committee persona (economic_buyer, champion, user, ...)."),
            C("created_at", "timestamp", "When the record was created."),
            C("updated_at", "timestamp", "When the record was last refreshed."),
        ],
        {"account_id": "accounts"},
    ),
    "leads": _table(
        "leads",
        "Unconverted inbound or outbound leads, not yet tied to an account.",
        "lead_id",
        [
            C("lead_id", "string", "Unique lead key.", required=True),
            C("email", "email", "Email address, lower case."),
            C("company", "string", "Company name as entered."),
            C("website", "string", "Company website as entered."),
            C("title", "string", "Job title."),
            C("seniority", "string", "Seniority level."),
            C("persona", "string", "Buying-committee persona, when known (else derived from the title)."),
            C("country", "string", "Country."),
            C("employees", "int", "Company size as entered.", min_value=0),
            C("industry", "string", "Industry as entered."),
            C("lead_source", "string", "Source (web, event, list, referral, ...)."),
            C("status", "string", "Lead status."),
            C("created_at", "timestamp", "When the lead was created."),
            C("updated_at", "timestamp", "When the lead was last updated."),
        ],
    ),
    "opportunities": _table(
        "opportunities",
        "Deals, open and closed.",
        "opportunity_id",
        [
            C("opportunity_id", "string", "Unique opportunity key.", required=True),
            C("account_id", "string", "Account the deal is with.", required=True),
            C("name", "string", "Deal name."),
            C("stage", "string", "Current stage name."),
            C("amount", "float", "Deal value (annual contract value).", min_value=0),
            C("created_at", "date", "Date the opportunity was created.", required=True),
            C("closed_at", "date", "Close date (actual for closed deals, expected for open ones)."),
            C("is_closed", "bool", "Whether the deal is closed."),
            C("is_won", "bool", "Whether the deal was won."),
            C("owner_id", "string", "Deal owner (rep_id)."),
            C("stage_changed_at", "date", "Date of the last stage change."),
            C("product", "string", "Product or line of business."),
        ],
        {"account_id": "accounts"},
    ),
    "activities": _table(
        "activities",
        "Time-stamped events: web visits, email replies, product usage, intent and trigger events.",
        "activity_id",
        [
            C("activity_id", "string", "Event key (optional; checked for duplicates when present)."),
            C("account_id", "string", "Account the event belongs to.", required=True),
            C("contact_id", "string", "Contact who acted, when known."),
            C("event_type", "string", "Event type, stored lower case (pricing_page_visit, funding_round, ...).", required=True,
              lower=True),
            C("occurred_at", "timestamp", "When it happened.", required=True),
            C("source", "string", "Where the event came from (web, email, intent provider, ...)."),
            C("detail", "string", "Free text: page, topic, subject."),
        ],
        {"account_id": "accounts"},
    ),
    "lead_activities": _table(
        "lead_activities",
        "Time-stamped events of leads (form fills, page visits, email replies) from marketing automation.",
        "activity_id",
        [
            C("activity_id", "string", "Event key (optional; checked for duplicates when present)."),
            C("lead_id", "string", "Lead who acted.", required=True),
            C("event_type", "string", "Event type, stored lower case (demo_request, pricing_page_visit, ...).",
              required=True, lower=True),
            C("occurred_at", "timestamp", "When it happened.", required=True),
            C("source", "string", "Where the event came from."),
            C("detail", "string", "Free text: page, form, subject."),
        ],
    ),
    "transactions": _table(
        "transactions",
        "Customer purchases, renewals and expansions (negative amounts are returns or credits).",
        "transaction_id",
        [
            C("transaction_id", "string", "Transaction key (optional)."),
            C("account_id", "string", "Paying customer (account).", required=True),
            C("order_id", "string", "Order the line belongs to."),
            C("occurred_at", "date", "Transaction date.", required=True),
            C("amount", "float", "Amount; negative for returns and credits."),
        ],
        {"account_id": "accounts"},
    ),
    "reps": _table(
        "reps",
        "Sales reps and pools that own accounts and leads.",
        "rep_id",
        [
            C("rep_id", "string", "Unique rep key.", required=True),
            C("name", "string", "Rep name."),
            C("email", "email", "Rep email."),
            C("role", "string", "Role: enterprise_ae, mid_market_ae, smb_pool, sdr, ..."),
            C("region", "string", "Region the rep covers."),
            C("capacity", "int", "Accounts the rep can own.", min_value=0),
            C("active", "bool", "Whether the rep takes new accounts and leads."),
            C("manager_id", "string", "Manager (rep_id)."),
            C("specialisation", "list", "Industries or segments the rep takes, and only those (territories); "
                                        "empty: any."),
        ],
    ),
}

#: Fields computed by scoring that segment rules may read.
SCORE_FIELDS: dict[str, str] = {
    "fit_score": "float",
    "signal_score": "float",
    "engagement_score": "float",
    "score": "float",
    "tier": "string",
}


#: Fields the territory potential expression may read besides account columns and scores.
TERRITORY_FIELDS: dict[str, str] = {
    "segment": "string",
    "won_amount": "float",
    "won_deals": "int",
    "open_pipeline": "float",
    "segment_acv": "float",
    "propensity_score": "float",
    "lookalike_score": "float",
}


#: Fields computed by lead scoring that contact segments and routing rules may read.
LEAD_SCORE_FIELDS: dict[str, str] = {
    "fit_points": "float",
    "behaviour_points": "float",
    "negative_points": "float",
    "days_since_activity": "int",
    "lead_score": "float",
    "is_mql": "bool",
    "persona": "string",
}

#: Fields of the matched account (and of the match) that routing rules may read besides the lead's columns.
ROUTING_FIELDS: dict[str, str] = {
    "account_id": "string",
    "account_name": "string",
    "account_owner_id": "string",
    "account_industry": "string",
    "account_employees": "int",
    "account_score": "float",
    "account_tier": "string",
    "account_segment": "string",
    "match_status": "string",
    "match_method": "string",
    "match_confidence": "float",
    "lead_segment": "string",
} | LEAD_SCORE_FIELDS


def markdown() -> str:
    """The data-model reference (docs/data-model.md), generated from :data:`TABLES`."""
    from tierwise.io.presets import PRESETS

    out = [
        "# Data model",
        "",
        "Generated from `tierwise.datamodel` by `python -m tierwise.datamodel` — do not edit by hand.",
        "",
        "tierwise reads up to eight canonical tables. Only `accounts` is required for scoring. Each",
        "table comes from a CSV or Parquet file named under `data:` in the spec; column names are",
        "mapped from the file by the table's `preset` (`canonical`, `salesforce`, `hubspot`) and",
        "`columns:` overrides, matching headers case-insensitively. Columns a file lacks are loaded as",
        "empty (null); a missing **required** column stops the load with a message naming the file,",
        "the column and the columns that are there.",
        "",
        "Types: text is trimmed and empty text is null; `int` and `float` accept thousands commas and",
        "currency signs (`$1,200`); `bool` accepts true/false, yes/no, y/n, t/f, 1/0; `date` and",
        "`timestamp` accept ISO 8601 (`2026-11-01`, `2026-11-01 09:30:00`); `list` is split on the",
        "source's `list_delimiter` (default `;`), trimmed, lower-cased, de-duplicated and sorted;",
        "`domain` is lower-cased with the scheme, `www.` and any path removed; `email` is lower-cased.",
        "",
        "Every row is loaded or quarantined. A row is quarantined, with every reason that applies, when",
        "a required value is missing, a value cannot be parsed as its type, a number is out of range",
        "(negative amounts, revenue or employee counts), the key repeats an earlier row's (the first",
        "is kept), the account it references does not exist, an opportunity closes before it was",
        "created, or the CSV line cannot be split into the header's columns. Quarantined rows are",
        "written with their source row number (`_row`: the file line minus the header line, so a",
        "spreadsheet's row number minus one) and reasons to `quarantine/<table>.csv`, and",
        "`read = loaded + quarantined` for every table.",
        "",
    ]
    for table in TABLES.values():
        out += [f"## {table.name}", "", table.description, ""]
        if table.key:
            out.append(f"Key: `{table.key}`." + (" " if table.references else ""))
        for col, target in table.references.items():
            out.append(f"`{col}` must exist in `{target}`.")
        out += ["", "| column | type | required | checks | Salesforce | HubSpot | description |",
                "|---|---|---|---|---|---|---|"]
        for c in table.columns.values():
            checks = []
            if c.min_value is not None:
                checks.append(f">= {c.min_value:g}")
            if c.max_value is not None:
                checks.append(f"<= {c.max_value:g}")
            sf = PRESETS["salesforce"].get(table.name, {}).get(c.name, "")
            hs = PRESETS["hubspot"].get(table.name, {}).get(c.name, "")
            out.append(f"| `{c.name}` | {c.dtype} | {'yes' if c.required else ''} | {', '.join(checks)} | "
                       f"{f'`{sf}`' if sf else ''} | {f'`{hs}`' if hs else ''} | {c.description} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown())
