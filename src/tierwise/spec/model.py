"""Pydantic models of the declarative tierwise spec.

The spec is the single source of business logic: every engine compiles the
same validated model. Every model forbids unknown keys so a typo such as
``weigth:`` is reported instead of silently ignored.

Examples
--------
>>> from tierwise.spec.model import Spec
>>> spec = Spec.model_validate({
...     "data": {"accounts": {"path": "accounts.csv"}},
...     "fit": {"criteria": [{"name": "size", "field": "employees", "at_least": 500, "points": 10}]},
... })
>>> [t.name for t in spec.tiers]
['A', 'B', 'C', 'D']
>>> spec.fit.weight, spec.signals.weight, spec.engagement.weight
(40.0, 35.0, 25.0)
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

SPEC_VERSION = 1

Identifier = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="lower_snake_case name (letters, digits, underscores)",
    ),
]


class StrictModel(BaseModel):
    """Base for every spec section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --------------------------------------------------------------------------- data


_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")


class SourceSpec(StrictModel):
    """Where one canonical table comes from and how its columns map."""

    path: str | None = Field(default=None, description="File path, relative to the spec file (or give table).")
    table: str | None = Field(
        default=None,
        description="A table (or view) of the database in data.database, as schema.table or table "
                    "(the search path's schema); instead of path.",
    )
    format: Literal["csv", "parquet"] | None = Field(
        default=None, description="File format; inferred from the extension when omitted."
    )
    preset: Literal["canonical", "salesforce", "hubspot"] = Field(
        default="canonical",
        description="Column-name mapping preset for CRM exports (see docs/data-model.md).",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Canonical column -> source column; overrides the preset.",
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="CSV field delimiter.")
    list_delimiter: str = Field(
        default=";",
        min_length=1,
        description="Separator of multi-valued text fields such as tech_stack.",
    )
    attributes: dict[Identifier, Literal["string", "int", "float", "bool", "date", "timestamp", "list"]] = Field(
        default_factory=dict,
        description="Extra columns to load beyond the canonical ones, with their types; usable in rules.",
    )

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        if value is not None and not _TABLE_NAME.fullmatch(value):
            raise ValueError(f"'{value}' is not a table name: give schema.table or table (letters, digits and _, "
                             "starting with a letter or _)")
        return value

    @model_validator(mode="after")
    def _one_location(self) -> SourceSpec:
        if (self.path is None) == (self.table is None):
            raise ValueError("give either path (a CSV or Parquet file) or table (schema.table in data.database), "
                             "not both" if self.path else "give path (a CSV or Parquet file) or table (schema.table "
                             "in data.database)")
        if self.table is not None and self.format is not None:
            raise ValueError("format applies to files; a table: source has no format")
        return self

    @property
    def resolved_format(self) -> str:
        if self.table is not None:
            return "table"
        if self.format:
            return self.format
        return "parquet" if self.path.lower().endswith((".parquet", ".pq")) else "csv"


class DataSpec(StrictModel):
    """Input tables. Only ``accounts`` is required for scoring."""

    database: str | None = Field(
        default=None,
        description="PostgreSQL connection URL the table: sources are read from (and --to-table writes to), e.g. "
                    "postgresql://revops@db.example:5432/crm; keep the password out of the spec (PGPASSWORD or "
                    "~/.pgpass).",
    )
    accounts: SourceSpec
    contacts: SourceSpec | None = None

    @field_validator("database")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            kind = value.split("://")[0] + "://" if "://" in value else "plain text"
            raise ValueError(f"give a PostgreSQL connection URL, postgresql://USER@HOST:5432/DATABASE (the password "
                             f"in PGPASSWORD or ~/.pgpass), not {kind}")
        return value
    leads: SourceSpec | None = None
    opportunities: SourceSpec | None = None
    activities: SourceSpec | None = None
    lead_activities: SourceSpec | None = None
    transactions: SourceSpec | None = None
    reps: SourceSpec | None = None

    def sources(self) -> dict[str, SourceSpec]:
        return {name: src for name in type(self).model_fields if isinstance(src := getattr(self, name), SourceSpec)}


# --------------------------------------------------------------------------- fit


class Band(StrictModel):
    """A numeric band ``min <= value < max`` worth ``points``."""

    min: float | None = Field(default=None, description="Inclusive lower bound; open when omitted.")
    max: float | None = Field(default=None, description="Exclusive upper bound; open when omitted.")
    points: float = Field(ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> Band:
        if self.min is None and self.max is None:
            raise ValueError("a band needs min, max or both")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"band min ({self.min:g}) must be below max ({self.max:g})")
        return self


class FitCriterion(StrictModel):
    """One ICP fit criterion. Exactly one matcher says how points are earned.

    Matchers:
      * ``bands``: numeric bands, first matching band's points;
      * ``values``: categorical value -> points (case-insensitive);
      * ``in``: full points when the value is one of a list (case-insensitive);
      * ``contains``: keyword -> points for free text such as job titles: the
        best keyword found as a whole word (case-insensitive) counts;
      * ``share_of``: points times the share of the list present in a
        multi-valued field (tech stack), full at ``full_at`` items;
      * ``at_least`` / ``at_most``: full points past a threshold;
      * ``when``: full points when a condition expression holds.
    """

    name: Identifier
    field: str | None = Field(default=None, description="Account column the criterion reads.")
    points: float | None = Field(
        default=None, gt=0, description="Maximum points; defaults to the best band/value."
    )
    bands: list[Band] | None = None
    values: dict[str, float] | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    contains: dict[str, float] | None = Field(
        default=None, description="Keyword -> points, matched as whole words in free text (job titles)."
    )
    share_of: list[str] | None = None
    full_at: int | None = Field(default=None, ge=1, description="share_of: items needed for full points.")
    at_least: float | None = None
    at_most: float | None = None
    when: str | None = Field(default=None, description="Condition expression (see docs/spec-reference.md).")

    @property
    def matcher(self) -> str:
        for key in ("bands", "values", "in_", "contains", "share_of", "at_least", "at_most", "when"):
            if getattr(self, key) is not None:
                return key.rstrip("_")
        raise AssertionError("validated criterion has a matcher")

    @property
    def max_points(self) -> float:
        if self.points is not None:
            return self.points
        if self.bands:
            return max(b.points for b in self.bands)
        if self.values:
            return max(self.values.values())
        if self.contains:
            return max(self.contains.values())
        raise AssertionError("validated criterion has points")

    @model_validator(mode="after")
    def _one_matcher(self) -> FitCriterion:
        given = [
            k
            for k in ("bands", "values", "in", "contains", "share_of", "at_least", "at_most", "when")
            if getattr(self, "in_" if k == "in" else k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "a fit criterion needs exactly one of bands, values, in, contains, share_of, at_least, at_most, when"
                + (f" (got {', '.join(given)})" if given else "")
            )
        kind = given[0]
        if kind != "when" and not self.field:
            raise ValueError(f"'{kind}' needs 'field': the account column to read")
        if kind in ("in", "share_of", "at_least", "at_most", "when") and self.points is None:
            raise ValueError(f"'{kind}' needs 'points': the points for a full match")
        if kind == "bands" and not self.bands:
            raise ValueError("'bands' must list at least one band")
        if kind == "values" and not self.values:
            raise ValueError("'values' must map at least one value to points")
        if kind == "contains":
            if not self.contains:
                raise ValueError("'contains' must map at least one keyword to points")
            if any(v < 0 for v in self.contains.values()):
                raise ValueError("contains points must be >= 0")
            if any(not k.strip() for k in self.contains):
                raise ValueError("contains keywords must not be empty")
        if self.full_at is not None and kind != "share_of":
            raise ValueError("'full_at' only applies to 'share_of'")
        if kind == "share_of" and self.full_at is not None and self.full_at > len(self.share_of or []):
            raise ValueError(f"'full_at' ({self.full_at}) exceeds the {len(self.share_of or [])} listed items")
        if self.points is not None:
            best = (
                max(b.points for b in self.bands)
                if self.bands
                else max(self.values.values())
                if self.values
                else max(self.contains.values())
                if self.contains
                else None
            )
            if best is not None and best > self.points:
                raise ValueError(f"a band/value is worth {best:g}, more than the criterion's points ({self.points:g})")
        if self.values is not None and any(v < 0 for v in self.values.values()):
            raise ValueError("values points must be >= 0")
        return self


class FitSpec(StrictModel):
    """ICP fit: firmographic and technographic criteria (seed 003: 40%)."""

    weight: float = Field(default=40.0, ge=0, le=100)
    criteria: list[FitCriterion] = Field(default_factory=list)

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.criteria)

    @field_validator("criteria")
    @classmethod
    def _unique(cls, criteria: list[FitCriterion]) -> list[FitCriterion]:
        _check_unique([c.name for c in criteria], "criterion")
        return criteria


# --------------------------------------------------------------------------- events


class EventRule(StrictModel):
    """Points for one event type, with optional per-type overrides."""

    points: float = Field(description="Points per event at age 0; negative for disqualifying events.")
    cap: float | None = Field(default=None, gt=0, description="Most points this type can add.")
    half_life_days: float | None = Field(default=None, gt=0)
    window_days: int | None = Field(default=None, ge=0)


def _coerce_event_rules(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ({"points": v} if isinstance(v, int | float) and not isinstance(v, bool) else v) for k, v in value.items()}
    return value


def _check_event_names(events: dict[str, Any]) -> dict[str, Any]:
    for name in events:
        if name != name.strip().lower() or not name:
            raise ValueError(f"event type '{name}' must be lower case without surrounding spaces")
    return events


class EventCategorySpec(StrictModel):
    """A category of time-stamped events (buying signals or engagement)."""

    weight: float = Field(ge=0, le=100)
    window_days: int = Field(default=180, ge=0, description="Look-back window; events older are ignored.")
    half_life_days: float = Field(default=30, gt=0, description="Exponential decay half-life.")
    cap: float = Field(default=100, gt=0, description="Raw points at which the category is full (100).")
    events: dict[str, EventRule] = Field(default_factory=dict)

    _shorthand = field_validator("events", mode="before")(_coerce_event_rules)
    _names = field_validator("events")(_check_event_names)


class SignalsSpec(EventCategorySpec):
    """Buying signals: leadership changes, hiring, funding/M&A, tech adoption (seed 003: 35%)."""

    weight: float = Field(default=35.0, ge=0, le=100)
    window_days: int = Field(default=180, ge=0, description="Look-back window; events older are ignored.")
    half_life_days: float = Field(default=45, gt=0, description="Exponential decay half-life.")


class EngagementSpec(EventCategorySpec):
    """Engagement: pricing-page visits, content, email replies, champion activity (seed 003: 25%)."""

    weight: float = Field(default=25.0, ge=0, le=100)
    window_days: int = Field(default=90, ge=0, description="Look-back window; events older are ignored.")
    half_life_days: float = Field(default=14, gt=0, description="Exponential decay half-life.")


# --------------------------------------------------------------------------- tiers, segments


class Tier(StrictModel):
    name: str = Field(min_length=1)
    min_score: float = Field(ge=0, le=100, description="Inclusive lower score bound.")
    action: str = ""
    coverage: str = ""
    accounts_per_rep: tuple[int, int] | None = Field(
        default=None, description="[min, max] accounts per rep for this tier; null means pooled or none."
    )


def _default_tiers() -> list[Tier]:
    return [
        Tier(name="A", min_score=80, action="Deep research, multi-thread, custom sequences",
             coverage="15-20 accounts per rep", accounts_per_rep=(15, 20)),
        Tier(name="B", min_score=60, action="Semi-personalised outreach, monthly touchpoints",
             coverage="~40 accounts per rep", accounts_per_rep=(35, 45)),
        Tier(name="C", min_score=40, action="Automated nurture, marketing-led",
             coverage="~150 accounts, shared pool"),
        Tier(name="D", min_score=0, action="Deprioritise or disqualify", coverage="No active rep coverage"),
    ]


class SegmentRule(StrictModel):
    name: str = Field(min_length=1)
    when: str | None = Field(default=None, description="Condition expression; omitted only on the default.")
    priority: str = Field(default="", description="Priority label such as P0.")
    motion: str = Field(default="", description="Sales motion, e.g. field_sales.")
    touches_per_month: tuple[int, int] | None = Field(default=None, description="[min, max] touches a month.")
    owner_role: str | None = None
    crm: dict[str, str] = Field(default_factory=dict, description="CRM field values written on export.")

    @field_validator("touches_per_month", mode="before")
    @classmethod
    def _touches(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return (value, value)
        return value

    @field_validator("touches_per_month")
    @classmethod
    def _touch_order(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and (value[0] < 0 or value[0] > value[1]):
            raise ValueError("touches_per_month must be [min, max] with 0 <= min <= max")
        return value


class SegmentsSpec(StrictModel):
    """Ordered segment rules: the first matching rule wins, else the default."""

    rules: list[SegmentRule] = Field(default_factory=list)
    default: SegmentRule

    @model_validator(mode="after")
    def _checks(self) -> SegmentsSpec:
        for i, rule in enumerate(self.rules):
            if not rule.when:
                raise ValueError(f"rules[{i}] ('{rule.name}') needs 'when'; only the default has none")
        if self.default.when:
            raise ValueError("the default segment takes no 'when': it catches every account no rule matched")
        _check_unique([r.name for r in self.rules] + [self.default.name], "segment")
        return self


# --------------------------------------------------------------------------- learned components


class PropensitySpec(StrictModel):
    """Predictive win propensity: a LightGBM model trained by ``tierwise model train``.

    Used as a score component (``weight``) or in place of the weighted fit
    (``replaces_fit``); unused (weight 0) by default.
    """

    path: str = Field(default="models/propensity", description="Model folder, relative to the spec file.")
    weight: float = Field(default=0.0, ge=0, le=100, description="Weight of the 0-100 propensity in the score.")
    replaces_fit: bool = Field(
        default=False, description="Use the propensity instead of the fit criteria, at fit.weight."
    )
    windows_days: list[int] = Field(
        default_factory=lambda: [30, 90, 180], min_length=1,
        description="Event-count windows before each cutoff, in days.",
    )
    holdout_share: float = Field(default=0.2, gt=0, lt=1, description="Latest share of deals held out for evaluation.")
    exclude: list[str] = Field(default_factory=list, description="Features never used.")
    include: list[str] = Field(
        default_factory=list, description="Features kept even when the leakage guard would exclude them."
    )
    timestamps: dict[str, str] = Field(
        default_factory=dict,
        description="Account attribute -> the account column holding when it was last set (load it under "
        "data.accounts.attributes as a timestamp); the leakage guard drops an attribute set after the deal "
        "closed on most deals.",
    )

    @field_validator("windows_days")
    @classmethod
    def _windows(cls, value: list[int]) -> list[int]:
        if any(w <= 0 for w in value):
            raise ValueError("windows_days must be positive")
        return sorted(set(value))


class LookalikeSpec(StrictModel):
    """Similarity to the best customers as a 0-100 score component (weight 0: off)."""

    weight: float = Field(default=0.0, ge=0, le=100, description="Weight of the 0-100 lookalike score.")
    best_share: float = Field(
        default=0.1, gt=0, le=1, description="Top share of customers by value that count as best customers."
    )



# --------------------------------------------------------------------------- lead scoring

#: Free-mail domains: a lead writing from one is a person, not yet a company (seed 003: -15).
PERSONAL_EMAIL_DOMAINS = (
    "126.com", "163.com", "aol.com", "comcast.net", "gmail.com", "gmx.com", "gmx.de", "gmx.net", "googlemail.com",
    "hotmail.co.uk", "hotmail.com", "hotmail.fr", "icloud.com", "live.com", "mac.com", "mail.com", "mail.ru", "me.com",
    "msn.com", "outlook.com", "proton.me", "protonmail.com", "qq.com", "web.de", "yahoo.co.uk", "yahoo.com",
    "yahoo.fr", "yandex.ru", "zoho.com",
)


class LeadEventRule(StrictModel):
    """Points for each event of one type a person did within the window."""

    points: float = Field(description="Points per event; negative for events that lower the score (unsubscribe).")
    cap: float | None = Field(default=None, gt=0, description="Most points this type can add.")
    window_days: int | None = Field(default=None, ge=0, description="Overrides the section's window for this type.")


class BehaviourGroup(StrictModel):
    """A group of behaviours (high intent, content, email, events) with a cap on what it can add."""

    name: Identifier
    cap: float | None = Field(default=None, gt=0, description="Most points the group can add.")
    events: dict[str, LeadEventRule] = Field(default_factory=dict, description="Event type -> points per event.")
    criteria: list[FitCriterion] = Field(
        default_factory=list,
        description="Behaviour already summed in a column (visits, time on site): points like fit criteria.",
    )

    _shorthand = field_validator("events", mode="before")(_coerce_event_rules)
    _names = field_validator("events")(_check_event_names)

    @model_validator(mode="after")
    def _something(self) -> BehaviourGroup:
        if not self.events and not self.criteria:
            raise ValueError(f"behaviour group '{self.name}' needs 'events' or 'criteria'")
        return self


class DomainPenalty(StrictModel):
    points: float = Field(le=0, description="Points added (negative) when the email domain is listed.")
    domains: list[str] = Field(default_factory=list, description="Email domains, lower case (acme.com).")

    @field_validator("domains")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return sorted({d.strip().lower().removeprefix("@") for d in value if d.strip()})


class SizePenalty(StrictModel):
    """Company size outside ``[min, max)``; an unknown size is not penalised."""

    points: float = Field(default=-20.0, le=0)
    field: str = Field(default="employees", description="Numeric lead column holding company size.")
    min: float | None = Field(default=None, ge=0, description="Smallest size you sell to (inclusive).")
    max: float | None = Field(default=None, gt=0, description="Size from which a company is too big (exclusive).")


class PenaltyRule(StrictModel):
    name: Identifier
    when: str = Field(description="Condition over the person's columns.")
    points: float = Field(lt=0)


class NegativesSpec(StrictModel):
    """Negative scoring that keeps junk out of the pipeline (seed 003 defaults)."""

    competitor: DomainPenalty = Field(default_factory=lambda: DomainPenalty(points=-50))
    personal_email: DomainPenalty = Field(
        default_factory=lambda: DomainPenalty(points=-15, domains=list(PERSONAL_EMAIL_DOMAINS)))
    wrong_size: SizePenalty = Field(default_factory=SizePenalty)
    rules: list[PenaltyRule] = Field(default_factory=list, description="More penalties as conditions.")


class DecaySpec(StrictModel):
    """Score decay for people with no new activity (seed 003: 25% a month)."""

    monthly_rate: float = Field(default=0.25, ge=0, lt=1, description="Share of the score lost per idle month.")
    month_days: int = Field(default=30, gt=0, description="Days in a decay month.")
    applies_to: Literal["total", "behaviour"] = Field(
        default="total", description="Decay the whole score (stale leads leave the MQL queue) or behaviour only.")


class MqlSpec(StrictModel):
    """The MQL threshold: fixed points, or the score that keeps the top share of scored leads."""

    threshold: float | None = Field(default=None, ge=0, description="Fixed MQL threshold in points.")
    top_share: float | None = Field(
        default=None, gt=0, lt=1, description="Share of leads that are MQL; 0.2 when neither key is given.")

    @model_validator(mode="before")
    @classmethod
    def _default_share(cls, data: Any) -> Any:
        # the model is frozen: the seed's top 20% is filled in before validation
        if isinstance(data, dict) and data.get("threshold") is None and data.get("top_share") is None:
            return {**data, "top_share": 0.2}
        return data

    @model_validator(mode="after")
    def _one(self) -> MqlSpec:
        if self.threshold is not None and self.top_share is not None:
            raise ValueError("give 'threshold' or 'top_share', not both")
        return self


class LeadScoringSpec(StrictModel):
    """Lead and contact scoring (seed 003): fit + behaviour + negatives, capped, decayed; MQL; segments."""

    fit: list[FitCriterion] = Field(default_factory=list, description="Title, seniority, persona, size, industry.")
    behaviour: list[BehaviourGroup] = Field(default_factory=list)
    window_days: int = Field(default=180, ge=0, description="Events older than this are not scored.")
    negatives: NegativesSpec = Field(default_factory=NegativesSpec)
    total_cap: float = Field(default=100.0, gt=0, description="Scores are clipped to [0, total_cap].")
    decay: DecaySpec = Field(default_factory=DecaySpec)
    mql: MqlSpec = Field(default_factory=MqlSpec)
    personas: dict[Identifier, list[str]] = Field(
        default_factory=dict,
        description="Persona -> title keywords (whole words, case-insensitive), for people without a persona.")
    committee: list[str] = Field(
        default_factory=list, description="Buying-committee personas each account should have (roll-up coverage).")

    @field_validator("committee")
    @classmethod
    def _committee(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(v.strip().lower() for v in value if v.strip()))
    segments: SegmentsSpec = Field(
        default_factory=lambda: SegmentsSpec(default=SegmentRule(name="nurture", motion="marketing nurture")),
        description="Behaviour-based contact segments; conditions may use event_count('type', days).")

    @field_validator("fit")
    @classmethod
    def _unique_fit(cls, criteria: list[FitCriterion]) -> list[FitCriterion]:
        _check_unique([c.name for c in criteria], "criterion")
        return criteria

    @model_validator(mode="after")
    def _checks(self) -> LeadScoringSpec:
        _check_unique([g.name for g in self.behaviour], "behaviour group")
        seen: dict[str, str] = {}
        for group in self.behaviour:
            for etype in group.events:
                if etype in seen:
                    raise ValueError(f"event type '{etype}' is in behaviour groups '{seen[etype]}' and '{group.name}'")
                seen[etype] = group.name
        _check_unique([c.name for c in self.fit] + [c.name for g in self.behaviour for c in g.criteria], "criterion")
        size = self.negatives.wrong_size
        if size.min is not None and size.max is not None and size.min >= size.max:
            raise ValueError(f"negatives.wrong_size: min ({size.min:g}) must be below max ({size.max:g})")
        return self

    def event_rules(self) -> dict[str, tuple[BehaviourGroup, LeadEventRule]]:
        """Every scored event type -> its group and rule."""
        return {etype: (g, rule) for g in self.behaviour for etype, rule in g.events.items()}

# --------------------------------------------------------------------------- lead routing


class RoutingRule(StrictModel):
    """One routing rule: where a lead goes when ``when`` holds (first match wins)."""

    name: Identifier
    when: str | None = Field(default=None, description="Condition over lead columns and matched-account fields.")
    to: Literal["owner", "queue", "account_owner", "pool"] = Field(description="Kind of target.")
    target: str | None = Field(default=None, description="Rep id (owner), queue name (queue) or pool name (pool).")
    pool: list[str] | None = Field(default=None, description="pool: the rep ids taking leads in turn.")
    sla_minutes: int | None = Field(default=None, gt=0, description="First touch due within this many minutes.")
    fallback: str | None = Field(default=None, description="Queue for leads the target cannot take.")

    @model_validator(mode="after")
    def _target(self) -> RoutingRule:
        if self.to in ("owner", "queue") and not self.target:
            raise ValueError(f"'to: {self.to}' needs 'target': the {'rep id' if self.to == 'owner' else 'queue name'}")
        if self.to == "pool" and not self.pool:
            raise ValueError("'to: pool' needs 'pool': the rep ids that take leads in turn")
        if self.to != "pool" and self.pool:
            raise ValueError("'pool' only applies to 'to: pool'")
        return self


class RoutingSpec(StrictModel):
    """Lead routing (seeds 001-002): ordered rules, a required default, SLAs, an audit log."""

    rules: list[RoutingRule] = Field(default_factory=list)
    default: RoutingRule
    min_match_score: float = Field(default=85.0, ge=0, le=100, description="Fuzzy company-name match threshold.")
    out_of_office: list[str] = Field(default_factory=list, description="Rep ids out of office now.")
    audit_log: str = Field(default="routing/audit.jsonl", description="Audit log file, relative to the spec file.")

    @model_validator(mode="after")
    def _checks(self) -> RoutingSpec:
        for i, rule in enumerate(self.rules):
            if not rule.when:
                raise ValueError(f"rules[{i}] ('{rule.name}') needs 'when'; only the default has none")
        if self.default.when:
            raise ValueError("the default route takes no 'when': it catches every lead no rule matched")
        if self.default.to != "queue" and not self.default.fallback:
            raise ValueError("the default route needs 'fallback' (a queue) unless it sends leads to a queue")
        _check_unique([r.name for r in self.rules] + [self.default.name], "route")
        return self


# --------------------------------------------------------------------------- RFM and customer health

#: An R, F or M score: 1 (lowest) to 5 (highest).
RFM_SCORES = (1, 2, 3, 4, 5)


def _score_set(value: Any) -> Any:
    """``5``, ``[4, 5]`` or ``"4-5"`` -> a sorted list of scores; null means any score."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a score set is a score 1-5, a list of scores or a range such as '4-5'")
    if isinstance(value, int):
        value = [value]
    elif isinstance(value, str):
        text = value.strip().replace("–", "-")
        lo, sep, hi = text.partition("-")
        try:
            value = list(range(int(lo), int(hi) + 1)) if sep else [int(text)]
        except ValueError:
            raise ValueError(f"'{value}' is not a score 1-5 or a range such as '4-5'") from None
        if not value:
            raise ValueError(f"the range '{text}' is empty: write the lower score first")
    if not isinstance(value, list) or not value:
        raise ValueError("a score set is a score 1-5, a list of scores or a range such as '4-5'")
    bad = [v for v in value if not isinstance(v, int) or isinstance(v, bool) or v not in RFM_SCORES]
    if bad:
        raise ValueError(f"scores run from 1 to 5, got {bad[0]!r}")
    return sorted(set(value))


def _cells_text(scores: list[int] | None) -> str:
    if scores is None:
        return "1-5"
    if len(scores) > 1 and scores == list(range(scores[0], scores[-1] + 1)):
        return f"{scores[0]}-{scores[-1]}"
    return ",".join(str(s) for s in scores)


#: How a score set may be written in YAML (the model stores a sorted list).
ScoreSet = Annotated[list[int] | None, WithJsonSchema({"anyOf": [
    {"type": "integer", "minimum": 1, "maximum": 5},
    {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 5}},
    {"type": "string", "pattern": "^[1-5](-[1-5])?$"},
    {"type": "null"},
]})]


class RfmSegment(StrictModel):
    """One RFM segment: the R, F and M scores it takes (omitted: any) and its motion."""

    name: str = Field(min_length=1)
    r: ScoreSet = Field(default=None, description="Recency scores: 5, [4, 5] or '4-5'; omitted: any.")
    f: ScoreSet = Field(default=None, description="Frequency scores; omitted: any.")
    m: ScoreSet = Field(default=None, description="Monetary scores; omitted: any.")
    motion: str = Field(default="", description="The sales motion for customers in this segment.")

    _sets = field_validator("r", "f", "m", mode="before")(_score_set)

    def matches(self, r: int, f: int, m: int) -> bool:
        return all(s is None or v in s for s, v in ((self.r, r), (self.f, f), (self.m, m)))

    def describe(self) -> str:
        return f"R{_cells_text(self.r)} F{_cells_text(self.f)} M{_cells_text(self.m)}"


def _default_rfm_segments() -> list[RfmSegment]:
    """Seed 003's map, then named segments for every other combination (docs/rfm.md)."""
    return [
        RfmSegment(name="Champions", r=5, f=5, m=5, motion="referral asks and case studies"),
        RfmSegment(name="Loyal", r="4-5", f="4-5", m="3-5", motion="expansion and upsell"),
        RfmSegment(name="At-Risk", r="1-2", f="4-5", m="3-5", motion="retention outreach and QBR"),
        RfmSegment(name="New", r="4-5", f="1-2", m="1-2", motion="onboarding and adoption"),
        RfmSegment(name="Lost", r="1-2", f="1-2", m="1-2", motion="win-back campaign"),
        RfmSegment(name="Promising", r="4-5", f="1-2", m="3-5",
                   motion="white-glove onboarding and an early expansion plan"),
        RfmSegment(name="Potential Loyalists", r="4-5", f="3-5",
                   motion="cross-sell and a loyalty or advocacy programme"),
        RfmSegment(name="Needs Attention", r=3, motion="check-in call and a tailored offer before they lapse"),
        RfmSegment(name="Hibernating", r="1-2", motion="low-touch reactivation: automated nurture and product news"),
    ]


class RfmTrigger(StrictModel):
    """The play for customers whose segment changed from one segment to another (``*``: any)."""

    from_: str = Field(alias="from", min_length=1, description="Previous segment, or '*' for any.")
    to: str = Field(min_length=1, description="New segment, or '*' for any.")
    play: str = Field(min_length=1, description="What the owner should do (the task's subject).")
    priority: Literal["High", "Normal", "Low"] = Field(default="Normal", description="Task priority (CRM picklist).")
    due_days: int = Field(default=7, ge=0, description="Task due this many days after as_of.")


def _default_rfm_triggers() -> list[RfmTrigger]:
    return [
        RfmTrigger(from_="Champions", to="At-Risk", priority="High", due_days=2,
                   play="Champion slipping: executive save call within 48 hours, review usage and open issues, "
                        "book a QBR"),
        RfmTrigger(from_="Loyal", to="At-Risk", priority="High", due_days=3,
                   play="Loyal customer slipping: retention outreach and a QBR"),
        RfmTrigger(from_="*", to="At-Risk", priority="High", due_days=5, play="Retention outreach and QBR"),
        RfmTrigger(from_="Champions", to="*", priority="Normal", due_days=7,
                   play="Champion cooling: thank-you call, check satisfaction, ask what would help"),
    ]


class ClvSpec(StrictModel):
    """Customer lifetime value: BG/NBD for purchases, Gamma-Gamma for spend (docs/rfm.md)."""

    enabled: bool = Field(default=True, description="Fit the models and add p_alive, expected purchases and value.")
    horizon_days: int = Field(default=365, gt=0, description="Expected purchases and value over this many days.")
    time_unit_days: int = Field(default=7, gt=0, description="Model time unit (7: weeks, as in the literature).")
    min_customers: int = Field(default=50, ge=2, description="Fewer customers than this and CLV is skipped.")
    max_fit_customers: int = Field(
        default=250_000, ge=100,
        description="Above this many customers the models are fitted on a sample of about this size, chosen "
                    "by a hash of the customer id; predictions are for every customer.")


class HealthUsage(StrictModel):
    """Product-usage trend: from usage events in the activities table, or an account column holding the trend."""

    events: list[str] = Field(
        default_factory=list, description="Activity event types that count as product usage (lower case).")
    window_days: int = Field(default=30, gt=0, description="Usage in the last window compared with the one before.")
    field: str | None = Field(default=None, description="Account column with the usage trend as a fraction (-0.3).")
    full_at: float = Field(default=0.5, gt=0, description="A trend of +full_at scores 100, -full_at scores 0.")

    _names = field_validator("events")(lambda value: [_check_usage_event(e) for e in value])

    @model_validator(mode="after")
    def _one(self) -> HealthUsage:
        if bool(self.events) == bool(self.field):
            raise ValueError("usage needs 'events' (activity types) or 'field' (an account column), not both")
        return self


def _check_usage_event(name: str) -> str:
    if name != name.strip().lower() or not name:
        raise ValueError(f"event type '{name}' must be lower case without surrounding spaces")
    return name


class HealthSupport(StrictModel):
    """Open support issues from an account column: none scores 100, ``full_at`` or more score 0."""

    field: str = Field(description="Account column (int) with the number of open support issues.")
    full_at: int = Field(default=5, gt=0, description="This many open issues or more score 0.")


class HealthWeights(StrictModel):
    """Weights of the health parts; a part missing for a customer is left out of its mean."""

    rfm: float = Field(default=60.0, ge=0, description="Weight of the RFM part.")
    usage: float = Field(default=25.0, ge=0, description="Weight of the usage trend (when configured and present).")
    support: float = Field(default=15.0, ge=0, description="Weight of open support issues (when configured and present).")


class HealthRfmMix(StrictModel):
    """How the R, F and M scores make the RFM part of health: recency counts double by default."""

    r: float = Field(default=2.0, ge=0, description="Weight of the recency score.")
    f: float = Field(default=1.0, ge=0, description="Weight of the frequency score.")
    m: float = Field(default=1.0, ge=0, description="Weight of the monetary score.")

    @model_validator(mode="after")
    def _some(self) -> HealthRfmMix:
        if self.r + self.f + self.m <= 0:
            raise ValueError("rfm_mix: at least one of r, f, m must be above 0")
        return self


class HealthBands(StrictModel):
    """Health bands: healthy, watch, else at risk."""

    healthy: float = Field(default=70.0, gt=0, le=100, description="Health at or above this is healthy.")
    watch: float = Field(default=40.0, gt=0, le=100, description="At or above this (below healthy) is watch.")

    @model_validator(mode="after")
    def _order(self) -> HealthBands:
        if self.watch >= self.healthy:
            raise ValueError(f"bands: watch ({self.watch:g}) must be below healthy ({self.healthy:g})")
        return self


class HealthPlays(StrictModel):
    """The task's play when a customer's health band worsens to watch or at risk."""

    watch: str = Field(default="Health slipping to watch: check in with the main contact and review usage",
                       description="Play when the band drops to watch (Normal priority).")
    at_risk: str = Field(default="Health at risk: customer success call within a week and a recovery plan",
                         description="Play when the band drops to at risk (High priority, due in 7 days).")


class HealthSpec(StrictModel):
    """Customer health 0-100: RFM, usage trend and open support issues, weighted over the parts present."""

    weights: HealthWeights = Field(default_factory=HealthWeights)
    rfm_mix: HealthRfmMix = Field(default_factory=HealthRfmMix, description="Weights of R, F and M in the RFM part.")
    usage: HealthUsage | None = Field(default=None, description="Product-usage trend; omitted: not used.")
    support: HealthSupport | None = Field(default=None, description="Open support issues; omitted: not used.")
    bands: HealthBands = Field(default_factory=HealthBands)
    plays: HealthPlays = Field(default_factory=HealthPlays, description="Tasks when a customer's band worsens.")


class RfmSpec(StrictModel):
    """RFM segmentation of customers from ``transactions`` (seed 003), triggers, CLV and health (docs/rfm.md)."""

    frequency: Literal["auto", "orders", "transactions", "days"] = Field(
        default="auto",
        description="What frequency counts: distinct orders, purchase lines (transactions) or days with a "
                    "purchase; auto: orders when the transactions have order_id, else purchase lines.")
    segments: list[RfmSegment] = Field(
        default_factory=_default_rfm_segments,
        description="Ordered: a customer is in the first segment whose scores match; every one of the 125 "
                    "R/F/M combinations must be covered.")
    triggers: list[RfmTrigger] = Field(
        default_factory=_default_rfm_triggers,
        description="Plays on segment change (first match wins); other changes get the new segment's motion.")
    default_due_days: int = Field(default=7, ge=0, description="Due date of tasks no trigger names.")
    first_seen_tasks: bool = Field(
        default=True, description="A task for customers who were not in the previous run (the new segment's motion).")
    history: str = Field(default=".tierwise/rfm", description="Folder of per-run segments, relative to the spec.")
    clv: ClvSpec = Field(default_factory=ClvSpec)
    health: HealthSpec = Field(default_factory=HealthSpec)

    @model_validator(mode="after")
    def _map(self) -> RfmSpec:
        _check_unique([s.name for s in self.segments], "segment")
        if not self.segments:
            raise ValueError("segments: at least one segment is needed")
        owner = self.cell_map()
        gaps = [cell for cell in _all_cells() if cell not in owner]
        if gaps:
            shown = ", ".join(f"R{r}F{f}M{m}" for r, f, m in gaps[:6])
            raise ValueError(f"segments leave {len(gaps)} of the 125 R/F/M combinations without a segment ({shown}"
                             f"{', ...' if len(gaps) > 6 else ''}); add a segment for them, e.g. a last one with no "
                             "r, f or m")
        used = set(owner.values())
        for seg in self.segments:
            if seg.name not in used:
                raise ValueError(f"segment '{seg.name}' ({seg.describe()}) never matches: every combination it "
                                 "covers is taken by an earlier segment")
        names = {s.name for s in self.segments}
        for i, trig in enumerate(self.triggers):
            for key, value in (("from", trig.from_), ("to", trig.to)):
                if value != "*" and value not in names:
                    raise ValueError(f"triggers[{i}].{key}: unknown segment '{value}'; segments: "
                                     f"{', '.join(s.name for s in self.segments)}")
        return self

    def cell_map(self) -> dict[tuple[int, int, int], str]:
        """(r, f, m) -> the first segment that takes it (the resolved map)."""
        owner: dict[tuple[int, int, int], str] = {}
        for r, f, m in _all_cells():
            for seg in self.segments:
                if seg.matches(r, f, m):
                    owner[(r, f, m)] = seg.name
                    break
        return owner

    def trigger_for(self, previous: str, current: str) -> RfmTrigger | None:
        """The first trigger for a change from ``previous`` to ``current``, if any."""
        for trig in self.triggers:
            if trig.from_ in ("*", previous) and trig.to in ("*", current):
                return trig
        return None


def _all_cells() -> list[tuple[int, int, int]]:
    return [(r, f, m) for r in RFM_SCORES for f in RFM_SCORES for m in RFM_SCORES]


# --------------------------------------------------------------------------- governance: history, reports

#: Funnel stages the seed's benchmarks name, in order.
FUNNEL_STAGES = ("lead", "mql", "sql", "opportunity", "closed_won")
FunnelStage = Literal["lead", "mql", "sql", "opportunity", "closed_won"]


class FunnelBenchmark(StrictModel):
    """A stage-to-stage conversion benchmark (seed 003, B2B SaaS)."""

    from_: FunnelStage = Field(alias="from", description="Stage converted from.")
    to: FunnelStage = Field(description="Stage converted to (later in the funnel).")
    rate: float = Field(gt=0, le=1, description="Benchmark conversion rate (0.39 = 39%).")

    @model_validator(mode="after")
    def _order(self) -> FunnelBenchmark:
        if FUNNEL_STAGES.index(self.to) <= FUNNEL_STAGES.index(self.from_):
            raise ValueError(f"'{self.to}' must come after '{self.from_}' in the funnel "
                             f"({' -> '.join(FUNNEL_STAGES)})")
        return self


def _default_benchmarks() -> list[FunnelBenchmark]:
    return [FunnelBenchmark(from_="lead", to="mql", rate=0.39), FunnelBenchmark(from_="mql", to="sql", rate=0.38),
            FunnelBenchmark(from_="sql", to="opportunity", rate=0.42),
            FunnelBenchmark(from_="sql", to="closed_won", rate=0.37)]


def _default_lead_statuses() -> dict[str, list[str]]:
    return {
        "mql": ["mql", "marketing qualified", "marketing qualified lead", "marketingqualifiedlead"],
        "sql": ["sql", "sales qualified", "sales qualified lead", "salesqualifiedlead", "sal", "sales accepted"],
        "opportunity": ["opportunity", "converted", "closed - converted"],
        "closed_won": ["customer", "closed won", "won"],
    }


class FunnelSpec(StrictModel):
    """How lead statuses and opportunity stages map onto the funnel, and the benchmarks (docs/reports.md)."""

    lead_statuses: dict[Literal["mql", "sql", "opportunity", "closed_won"], list[str]] = Field(
        default_factory=_default_lead_statuses,
        description="Funnel stage -> leads.status values (case-insensitive) meaning the lead reached it; other "
                    "statuses count as 'lead' only.")
    opportunity_stages: list[str] = Field(
        default_factory=list,
        description="Open opportunity stages in funnel order (case-insensitive); empty: ordered by the mean age "
                    "of the open deals in each stage.")
    benchmarks: list[FunnelBenchmark] = Field(default_factory=_default_benchmarks)
    deviation: float = Field(
        default=0.2, gt=0, description="A rate this far from its benchmark (relative: 0.2 = 20%), with the "
                                       "benchmark outside its 95% interval, is highlighted.")
    min_records: int = Field(default=30, ge=1, description="Fewer records at the 'from' stage: not judged.")

    @field_validator("lead_statuses")
    @classmethod
    def _statuses(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        out = {}
        for stage, statuses in value.items():
            folded = [s.strip().lower() for s in statuses if s.strip()]
            for s in folded:
                if s in seen and seen[s] != stage:
                    raise ValueError(f"status '{s}' is listed under both '{seen[s]}' and '{stage}'")
                seen[s] = stage
            out[stage] = folded
        return out

    @field_validator("opportunity_stages")
    @classmethod
    def _stages(cls, value: list[str]) -> list[str]:
        _check_unique([v.strip().lower() for v in value], "opportunity stage")
        return value


class ZombieSpec(StrictModel):
    """Zombie opportunities (seed 003): a low ICP score and no stage advance in 30-45 days."""

    score: Literal["fit_score", "score", "signal_score", "engagement_score"] = Field(
        default="fit_score", description="The account score compared with 'below' (the ICP fit score by default).")
    below: float = Field(default=65.0, ge=0, le=100, description="Scores below this make an idle deal a zombie.")
    requalify_after_days: int = Field(default=30, gt=0, description="Days without a stage change: requalify.")
    close_after_days: int = Field(default=45, gt=0, description="Days without a stage change: close it.")

    @model_validator(mode="after")
    def _order(self) -> ZombieSpec:
        if self.close_after_days < self.requalify_after_days:
            raise ValueError(f"close_after_days ({self.close_after_days}) must not be below requalify_after_days "
                             f"({self.requalify_after_days})")
        return self


def _bounds(value: list[int]) -> list[int]:
    if not value or any(v <= 0 for v in value):
        raise ValueError("bucket bounds must be positive days")
    if sorted(set(value)) != list(value):
        raise ValueError("bucket bounds must increase")
    return value


class PipelineGovernanceSpec(StrictModel):
    """``tierwise pipeline``: velocity buckets, time in stage and zombies (seed 003)."""

    velocity_days: int = Field(
        default=50, gt=0, description="Deals open longer than this win far less often (seed 003: 47% vs 20%).")
    age_buckets_days: list[int] = Field(
        default_factory=lambda: [25, 50, 90, 180],
        description="Upper bounds (days, inclusive) of the deal-age buckets; a last bucket takes the rest.")
    stage_buckets_days: list[int] = Field(
        default_factory=lambda: [15, 30, 45, 90], description="Upper bounds of the time-in-stage buckets.")
    zombies: ZombieSpec = Field(default_factory=ZombieSpec)
    exclude_when: str | None = Field(
        default=None, description="Condition over opportunity columns marking deals stalled for a known reason "
                                  "(e.g. \"stall_reason in ['legal review']\"); they are left off the zombie list.")

    _age = field_validator("age_buckets_days", "stage_buckets_days")(lambda v: _bounds(v))


class GuardrailsSpec(StrictModel):
    """Segment guardrails and the actionability test (seed 003)."""

    min_segment_share: float = Field(default=0.15, ge=0, le=1, description="Segments below this share: too small.")
    max_segment_share: float = Field(default=0.60, gt=0, le=1, description="Segments above this share: too broad.")
    max_segments: int = Field(default=8, ge=1, description="More segments than this: too many to act on.")
    pooled_accounts_per_rep: dict[str, int] = Field(
        default_factory=lambda: {"C": 150},
        description="Tier -> accounts one pooled rep covers (seed 003: C ~150, shared); tiers with "
                    "accounts_per_rep use that.")

    @model_validator(mode="after")
    def _shares(self) -> GuardrailsSpec:
        if self.min_segment_share >= self.max_segment_share:
            raise ValueError("min_segment_share must be below max_segment_share")
        if any(v <= 0 for v in self.pooled_accounts_per_rep.values()):
            raise ValueError("pooled_accounts_per_rep: accounts per rep must be positive")
        return self


class IcpMeasureSpec(StrictModel):
    """ICP measurement (seed 004): the share of open pipeline and of closed-won in ICP segments."""

    segments: list[str] = Field(
        default_factory=list,
        description="The ICP segments; empty: an account is ICP when its fit_score >= min_fit_score.")
    min_fit_score: float = Field(default=65.0, ge=0, le=100)
    pipeline_target: float = Field(default=0.5, ge=0, le=1, description="Target share of open pipeline in ICP.")
    won_target: float = Field(default=0.7, ge=0, le=1, description="Target share of closed-won deals in ICP.")
    measure: Literal["count", "value"] = Field(
        default="count", description="Compare deal counts (the seed's 'opportunities') or amounts with the targets.")
    won_window_days: int | None = Field(
        default=365, gt=0, description="Closed-won deals closed within this many days before as_of; null: all.")


class DriftSpec(StrictModel):
    """Drift between two runs: population stability, tier migration, alert thresholds."""

    attributes: list[str] | None = Field(
        default=None, description="Account columns recorded with each run for drift; null: the fit criteria's "
                                  "fields (list columns such as tech_stack are left out).")
    bins: int = Field(default=10, ge=2, le=50, description="Quantile bins of numbers (from the earlier run).")
    psi_warn: float = Field(default=0.1, gt=0, description="PSI at or above this: moderate shift (warning).")
    psi_alert: float = Field(default=0.25, gt=0, description="PSI at or above this: significant shift (alert).")
    tier_change_alert: float = Field(
        default=0.2, gt=0, le=1, description="Share of accounts changing tier at or above this: alert.")

    @model_validator(mode="after")
    def _order(self) -> DriftSpec:
        if self.psi_alert < self.psi_warn:
            raise ValueError(f"psi_alert ({self.psi_alert:g}) must not be below psi_warn ({self.psi_warn:g})")
        return self


class GovernanceSpec(StrictModel):
    """Run history and the reports that keep a segmentation honest (docs/reports.md)."""

    history: str = Field(
        default=".tierwise/history.duckdb",
        description="Run history store: a DuckDB file (relative to the spec) or a URL: duckdb:///path.duckdb, "
                    "postgresql://user@host:5432/db (password from PGPASSWORD or ~/.pgpass).")
    record: bool = Field(default=True, description="`tierwise score` records each run (--no-history skips it).")
    min_deals: int = Field(default=20, ge=1, description="Groups with fewer decided deals are not judged on win rate.")
    funnel: FunnelSpec = Field(default_factory=FunnelSpec)
    pipeline: PipelineGovernanceSpec = Field(default_factory=PipelineGovernanceSpec)
    guardrails: GuardrailsSpec = Field(default_factory=GuardrailsSpec)
    icp: IcpMeasureSpec = Field(default_factory=IcpMeasureSpec)
    drift: DriftSpec = Field(default_factory=DriftSpec)



# --------------------------------------------------------------------------- spec


# --------------------------------------------------------------------------- CRM export

#: Columns an export can write: the score output, the account's industry flag, and ``crm:<Field>``
#: for a value from the segment's ``crm:`` map.
EXPORT_COLUMNS = ("account_id", "account_name", "owner_id", "fit_score", "signal_score", "engagement_score", "score",
                  "tier", "segment", "priority", "motion", "reason_1", "reason_2", "reason_3",
                  "industry_priority", "as_of", "spec_hash")


def _check_export_fields(fields: dict[str, str], what: str) -> dict[str, str]:
    for crm_field, column in fields.items():
        if not crm_field.strip():
            raise ValueError(f"{what}: a CRM field name is empty")
        if column not in EXPORT_COLUMNS and not (column.startswith("crm:") and column[4:].strip()):
            raise ValueError(f"{what}.{crm_field}: unknown column {column!r}; use one of {', '.join(EXPORT_COLUMNS)} "
                             "or crm:<Field> (a value of the segment's crm: map)")
    return fields


class SalesforceExportSpec(StrictModel):
    """A Bulk API 2.0 / Data Loader upsert of the Account object, keyed on an external id."""

    object: str = Field(default="Account", description="Salesforce object to upsert.")
    external_id: str = Field(default="Tierwise_Account_Id__c",
                             description="External id field the upsert matches on; it holds the account_id.")
    fields: dict[str, str] = Field(
        default_factory=lambda: {
            "Segment_Tier__c": "crm:Segment_Tier__c", "Segment_Score__c": "score",
            "Recommended_Motion__c": "crm:Recommended_Motion__c", "Industry_Priority__c": "industry_priority",
            "Account_Tier__c": "tier", "Segment_Priority__c": "priority", "OwnerId": "owner_id"},
        description="Salesforce field -> tierwise column (or crm:<Field> from the segment's crm: map).")

    @field_validator("fields")
    @classmethod
    def _known(cls, fields: dict[str, str]) -> dict[str, str]:
        return _check_export_fields(fields, "fields")


class HubSpotExportSpec(StrictModel):
    """A HubSpot import file and CRM v3 batch-upsert payloads for companies."""

    object: str = Field(default="companies", description="HubSpot object type.")
    id_property: str = Field(default="tierwise_account_id",
                             description="Unique property the batch upsert matches on; it holds the account_id.")
    properties: dict[str, str] = Field(
        default_factory=lambda: {
            "segment_tier": "crm:Segment_Tier__c", "segment_score": "score",
            "recommended_motion": "crm:Recommended_Motion__c", "industry_priority": "industry_priority",
            "account_tier": "tier", "segment_priority": "priority", "hubspot_owner_id": "owner_id"},
        description="HubSpot property -> tierwise column (or crm:<Field> from the segment's crm: map).")
    batch_size: int = Field(default=100, ge=1, le=100, description="Records per batch-upsert payload (HubSpot: 100).")

    @field_validator("properties")
    @classmethod
    def _known(cls, fields: dict[str, str]) -> dict[str, str]:
        return _check_export_fields(fields, "properties")


class ExportSpec(StrictModel):
    """``tierwise export``: what goes back to the CRM."""

    priority_industries: list[str] | None = Field(
        default=None, description="Industries flagged Industry_Priority__c; default: those the industry fit "
                                  "criterion gives its top points.")
    salesforce: SalesforceExportSpec = Field(default_factory=SalesforceExportSpec)
    hubspot: HubSpotExportSpec = Field(default_factory=HubSpotExportSpec)

    @field_validator("priority_industries")
    @classmethod
    def _lower(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else sorted({v.strip().lower() for v in value if v.strip()})


# --------------------------------------------------------------------------- territories


class TerritoryRole(StrictModel):
    """A rep role and the most accounts one rep of it may own (seed 001)."""

    max_accounts: int | None = Field(
        default=None, ge=0, description="Most accounts one rep of this role owns; null: no limit (a pooled role). "
                                        "A rep's own capacity (reps table) lowers it further.")
    description: str = Field(default="", description="What the role does (shown in reports).")


def _default_territory_roles() -> dict[str, TerritoryRole]:
    return {
        "enterprise_ae": TerritoryRole(max_accounts=20, description="Enterprise AE, field sales: at most 20 accounts"),
        "mid_market_ae": TerritoryRole(max_accounts=50, description="Mid-market AE, inside sales: at most 50 accounts"),
        "smb_pool": TerritoryRole(max_accounts=None, description="SMB SDR/AE pool, product-led: pooled, no limit"),
    }


class TierCoverage(StrictModel):
    """How the accounts of one tier are covered (seed 003)."""

    role: str | None = Field(
        default="segment",
        description="'segment': the owner_role of the account's segment; a role name: a shared pool of that role; "
                    "null: no rep coverage (the tier is left out of the plan).")
    accounts_per_rep: tuple[int, int] | None = Field(
        default=None, description="[min, max] accounts of this tier per rep: max is enforced, a rep below min is "
                                  "reported starved; default: the tier's accounts_per_rep (tiers:).")
    pooled_per_rep: int | None = Field(
        default=None, gt=0, description="Accounts of this tier one pooled rep covers (seed 003: C ~150, shared); "
                                        "sizes the workload when there is no per-rep range.")
    workload: float | None = Field(
        default=None, gt=0, description="Share of a rep's time one account takes (1 = a whole book); default: 1 / "
                                        "the middle of accounts_per_rep, else 1 / pooled_per_rep.")

    @field_validator("accounts_per_rep")
    @classmethod
    def _order(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 0 <= value[0] <= value[1]:
            raise ValueError("accounts_per_rep must be [min, max] with 0 <= min <= max")
        return value


def _default_coverage() -> dict[str, TierCoverage]:
    return {
        "A": TierCoverage(role="segment"),
        "B": TierCoverage(role="segment"),
        "C": TierCoverage(role="smb_pool", pooled_per_rep=150),
        "D": TierCoverage(role=None),
    }


class TerritoryRep(StrictModel):
    """A rep written in the spec (added to data.reps, or instead of it)."""

    rep_id: str = Field(min_length=1)
    name: str | None = None
    role: str = Field(min_length=1, description="A role under territories.roles, or any role the accounts need.")
    region: str | None = Field(default=None, description="The region (or country) the rep covers.")
    capacity: int | None = Field(default=None, ge=0, description="Most accounts the rep can own.")
    active: bool = True
    specialisation: list[str] = Field(
        default_factory=list, description="Industries or segments the rep takes, and only those; empty: any.")


class BalanceSpec(StrictModel):
    """The balance target: every rep's potential and workload near the mean of its role."""

    tolerance: float = Field(default=0.05, gt=0, lt=1,
                             description="Band around the mean (0.05: every rep within ±5%).")
    band_penalty: float = Field(default=100.0, ge=0,
                                description="Cost, in moves, of one percentage point outside the band, per rep and "
                                            "metric (potential, workload).")
    workload_weight: float = Field(default=1.0, ge=0,
                                   description="Weight of workload against potential in the balance costs (0: "
                                               "balance potential only).")


class MovesSpec(StrictModel):
    """Minimal disruption: what moving an account costs and how many moves a plan may make."""

    penalty: float = Field(default=1.0, gt=0, description="Cost of one move (the unit of the objective).")
    max_moves: int | None = Field(
        default=None, ge=0, description="Most discretionary moves in a plan; moves forced by an inactive, unknown "
                                        "or missing owner, or an owner of the wrong role or region, do not count.")
    max_share: float | None = Field(default=None, gt=0, le=1,
                                    description="Most discretionary moves as a share of the planned accounts.")
    keep_tiers: list[str] = Field(default_factory=lambda: ["A"],
                                  description="Tiers whose relationships are kept unless impossible.")
    keep_penalty: float = Field(default=1_000_000.0, gt=0,
                                description="Cost, in moves, of moving one account of a kept tier: above any "
                                            "imbalance, so only capacity, a tier limit or an owner who cannot "
                                            "keep the account moves it.")


class TerritorySolverSpec(StrictModel):
    """HiGHS settings."""

    time_limit_s: float = Field(default=60.0, gt=0, description="Solver seconds for one plan, shared among cells.")
    mip_gap: float = Field(default=0.01, ge=0, lt=1,
                           description="A cell's solve stops within this relative gap of the best possible plan.")
    threads: int = Field(default=1, ge=1, description="Cells (role x region) solved in parallel.")


class TerritoryScenario(StrictModel):
    """A what-if plan: the base inputs with some changed. Compared side by side; committed only when named."""

    name: Identifier
    description: str = ""
    add_reps: list[TerritoryRep] = Field(default_factory=list, description="Reps hired.")
    remove_reps: list[str] = Field(default_factory=list, description="Rep ids leaving (their accounts move).")
    capacity: dict[str, int] = Field(default_factory=dict, description="Rep id -> new capacity.")
    capacity_factor: float | None = Field(default=None, gt=0, description="Every rep's capacity times this.")
    roles: dict[str, TerritoryRole] = Field(default_factory=dict, description="Role limits replaced.")
    coverage: dict[str, TierCoverage] = Field(default_factory=dict, description="Tier coverage replaced.")
    tolerance: float | None = Field(default=None, gt=0, lt=1, description="Another balance band.")
    max_moves: int | None = Field(default=None, ge=0, description="Another cap on discretionary moves.")

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, value: dict[str, int]) -> dict[str, int]:
        bad = [k for k, v in value.items() if v < 0]
        if bad:
            raise ValueError(f"capacity of '{bad[0]}' must be >= 0")
        return value


class TerritoriesSpec(StrictModel):
    """Territory design (seeds 001, 003): balanced, minimally disruptive plans (docs/territories.md)."""

    potential: str = Field(
        default="score / 100 * segment_acv",
        description="Account potential, an expression over account columns, scores (score, fit_score, tier, ...) "
                    "and won_amount, won_deals, open_pipeline, segment_acv (mean won deal in the segment; 1 "
                    "without deals): by default the score as a propensity times the expected contract value.")
    region_field: str = Field(default="region",
                              description="Account column whose value must match the rep's region (region, country).")
    match_region: bool = Field(default=True, description="Assign accounts only to reps of their region.")
    roles: dict[str, TerritoryRole] = Field(default_factory=_default_territory_roles)
    coverage: dict[str, TierCoverage] = Field(
        default_factory=_default_coverage,
        description="Tier -> coverage; tiers not listed are not covered. Seed 003: A 15-20 and B ~40 accounts per "
                    "rep of the segment's role, C ~150 in the shared SMB pool, D none.")
    default_role: str | None = Field(
        default=None, description="Role for accounts whose segment has no owner_role; null: they are not covered.")
    reps: list[TerritoryRep] = Field(default_factory=list,
                                     description="Reps written here, added to data.reps (or the only reps).")
    balance: BalanceSpec = Field(default_factory=BalanceSpec)
    moves: MovesSpec = Field(default_factory=MovesSpec)
    solver: TerritorySolverSpec = Field(default_factory=TerritorySolverSpec)
    scenarios: list[TerritoryScenario] = Field(default_factory=list, description="What-if plans, side by side.")
    history: str = Field(default=".tierwise/territories",
                         description="Folder of committed plans (JSON), relative to the spec.")

    @model_validator(mode="after")
    def _checks(self) -> TerritoriesSpec:
        _check_unique([s.name for s in self.scenarios], "scenario")
        _check_unique([r.rep_id for r in self.reps], "rep")
        return self


class Spec(StrictModel):
    """The whole tierwise spec."""

    version: Literal[1] = Field(default=SPEC_VERSION, description="Spec format version.")
    name: str = Field(default="tierwise", description="Workspace name shown in reports.")
    engine: str = Field(default="duckdb://", description="Engine connection string, e.g. duckdb:// or duckdb:///ws.duckdb.")
    as_of: date | None = Field(default=None, description="Scoring date; the CLI's --as-of overrides; today when omitted.")
    data: DataSpec
    fit: FitSpec = Field(default_factory=FitSpec)
    signals: SignalsSpec = Field(default_factory=SignalsSpec)
    engagement: EngagementSpec = Field(default_factory=EngagementSpec)
    tiers: list[Tier] = Field(default_factory=_default_tiers)
    segments: SegmentsSpec = Field(
        default_factory=lambda: SegmentsSpec(default=SegmentRule(name="Unsegmented", priority="P5"))
    )
    propensity: PropensitySpec = Field(default_factory=PropensitySpec)
    lookalike: LookalikeSpec = Field(default_factory=LookalikeSpec)
    lead_scoring: LeadScoringSpec | None = Field(
        default=None, description="Lead and contact scoring; used by `tierwise leads score` and routing.")
    routing: RoutingSpec | None = Field(default=None, description="Lead routing; required by `tierwise leads route`.")
    rfm: RfmSpec | None = Field(
        default=None, description="RFM segments, triggers, CLV and health for `tierwise rfm`; the seed's map when omitted.")
    export: ExportSpec = Field(default_factory=ExportSpec,
                               description="CRM write-back for `tierwise export` (docs/export.md).")
    governance: GovernanceSpec = Field(
        default_factory=GovernanceSpec,
        description="Run history, segment performance, pipeline governance, guardrails and drift (docs/reports.md).")
    territories: TerritoriesSpec | None = Field(
        default=None, description="Territory design for `tierwise territories` (docs/territories.md); the seed's "
                                  "coverage model when omitted.")

    @field_validator("tiers")
    @classmethod
    def _tier_order(cls, tiers: list[Tier]) -> list[Tier]:
        # a field validator, so the problem is reported at `tiers:` with its line
        if not tiers:
            raise ValueError("at least one tier is needed")
        mins = [t.min_score for t in tiers]
        if any(a <= b for a, b in zip(mins, mins[1:], strict=False)):
            raise ValueError("min_score must strictly decrease from the first tier to the last")
        if mins[-1] != 0:
            raise ValueError(f"the last tier must have min_score 0 so every score has a tier (got {mins[-1]:g})")
        _check_unique([t.name for t in tiers], "tier")
        return tiers

    @model_validator(mode="after")
    def _cross_checks(self) -> Spec:
        parts = {"fit": self.fit.weight, "signals": self.signals.weight, "engagement": self.engagement.weight,
                 "propensity": self.propensity.weight, "lookalike": self.lookalike.weight}
        total = sum(parts.values())
        if abs(total - 100) > 1e-9:
            shown = " + ".join(f"{k} {v:g}" for k, v in parts.items() if v or k in ("fit", "signals", "engagement"))
            raise ValueError(f"category weights must add up to 100: {shown} = {total:g}")
        if self.propensity.replaces_fit and self.propensity.weight:
            raise ValueError("propensity.replaces_fit uses fit.weight for the propensity; set propensity.weight to 0")
        shared = set(self.signals.events) & set(self.engagement.events)
        if shared:
            raise ValueError(f"event types listed under both signals and engagement: {', '.join(sorted(shared))}")
        if self.fit.weight > 0 and not self.fit.criteria and not self.propensity.replaces_fit:
            raise ValueError("fit.weight is above 0 but fit.criteria is empty")
        self._check_governance()
        self._check_territories()
        return self

    def _check_territories(self) -> None:
        terr = self.territories
        if terr is None:
            return
        tiers = [t.name for t in self.tiers]
        places = [("territory coverage", terr.coverage)] + [
            (f"territory scenario '{s.name}': coverage", s.coverage) for s in terr.scenarios]
        for where, coverage in places:
            unknown = [t for t in coverage if t not in tiers]
            if unknown:
                raise ValueError(f"{where} names unknown tier '{unknown[0]}'; tiers: {', '.join(tiers)}")
        unknown = [t for t in terr.moves.keep_tiers if t not in tiers]
        if unknown:
            raise ValueError(f"territory keep_tiers names unknown tier '{unknown[0]}'; tiers: {', '.join(tiers)}")

    def _check_governance(self) -> None:
        gov = self.governance
        tiers = [t.name for t in self.tiers]
        pooled = gov.guardrails.pooled_accounts_per_rep
        if "pooled_accounts_per_rep" in gov.guardrails.model_fields_set:
            unknown = [t for t in pooled if t not in tiers]
            if unknown:
                raise ValueError(f"governance.guardrails.pooled_accounts_per_rep: unknown tier "
                                 f"'{unknown[0]}'; tiers: {', '.join(tiers)}")
        names = [r.name for r in self.segments.rules] + [self.segments.default.name]
        for seg in gov.icp.segments:
            if seg not in names:
                raise ValueError(f"governance.icp.segments: unknown segment '{seg}'; segments: {', '.join(names)}")

    def event_rules(self) -> dict[str, tuple[str, EventRule, EventCategorySpec]]:
        """Every event type -> (category name, its rule, its category)."""
        out: dict[str, tuple[str, EventRule, EventCategorySpec]] = {}
        for cat_name in ("signals", "engagement"):
            cat: EventCategorySpec = getattr(self, cat_name)
            for etype, rule in cat.events.items():
                out[etype] = (cat_name, rule, cat)
        return out

    @property
    def uses_propensity(self) -> bool:
        """Whether scoring needs the trained propensity model."""
        return self.propensity.weight > 0 or (self.propensity.replaces_fit and self.fit.weight > 0)

    def fingerprint(self) -> str:
        """A short hash of the validated spec (comments and layout don't change it)."""
        payload = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def _check_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} name '{name}'")
        seen.add(name)
