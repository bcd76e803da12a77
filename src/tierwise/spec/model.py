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
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
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


class SourceSpec(StrictModel):
    """Where one canonical table comes from and how its columns map."""

    path: str = Field(description="File path, relative to the spec file.")
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

    @property
    def resolved_format(self) -> str:
        if self.format:
            return self.format
        return "parquet" if self.path.lower().endswith((".parquet", ".pq")) else "csv"


class DataSpec(StrictModel):
    """Input tables. Only ``accounts`` is required for scoring."""

    accounts: SourceSpec
    contacts: SourceSpec | None = None
    leads: SourceSpec | None = None
    opportunities: SourceSpec | None = None
    activities: SourceSpec | None = None
    lead_activities: SourceSpec | None = None
    transactions: SourceSpec | None = None
    reps: SourceSpec | None = None

    def sources(self) -> dict[str, SourceSpec]:
        return {name: src for name in type(self).model_fields if (src := getattr(self, name)) is not None}


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
    export: ExportSpec = Field(default_factory=ExportSpec,
                               description="CRM write-back for `tierwise export` (docs/export.md).")

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
        return self

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
