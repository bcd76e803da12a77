"""The segmentation maturity assessment: scored from answers and from evidence in the data.

The instrument is the five-dimension "Customer Segmentation for Sales Assessment"
(seed 000): each dimension has five levels with evidence, red flags and a quick
diagnostic question; the overall score is the mean, read against score bands,
stage benchmarks and an action card for every weak dimension. The ICP maturity
level uses the four levels of seed 004 (Simple, Foundational, Developing, Strategic).

Examples
--------
>>> answers = Answers(company_stage="series_c_d", scores={
...     "icp_definition": 3, "data_layer": 2.5, "operationalization": 3,
...     "validation": 2, "alignment": 2})
>>> result = assess(answers)
>>> result["overall"], result["band"], result["benchmark"]["verdict"]
(2.5, 'Developing', 'below expected')
>>> [w["card"] for w in result["weak_dimensions"]]
['Sales Data Enrichment Strategy', 'ICP Validation Framework', 'GTM Segmentation Alignment Playbook']
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tierwise.errors import TierwiseError

# --------------------------------------------------------------------------- the instrument (seed 000)


@dataclass(frozen=True)
class Level:
    score: int
    name: str
    description: str
    evidence: str


@dataclass(frozen=True)
class Dimension:
    key: str
    name: str
    measures: str
    question: str
    levels: tuple[Level, ...]
    red_flags: tuple[str, ...]
    card: str  # the action card fetched when the dimension scores below 3

    def level_for(self, score: float) -> Level:
        """The level a score sits in; a half point belongs to the level below (2.5 -> level 2)."""
        return self.levels[int(math.floor(score)) - 1]


LEVEL_NAMES = ("Ad hoc", "Emerging", "Defined", "Managed", "Optimized")


def _levels(*rows: tuple[str, str]) -> tuple[Level, ...]:
    return tuple(Level(i + 1, LEVEL_NAMES[i], description, evidence) for i, (description, evidence) in enumerate(rows))


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        key="icp_definition",
        name="ICP Definition Rigor",
        measures="The depth and quality of the ideal customer profile definition.",
        question="Show me your ICP document — when was it last updated, and what data validated it?",
        levels=_levels(
            ('No formal ICP; "we sell to everyone" or vague descriptions',
             "Ask 5 people — get 5 different answers; no written definition"),
            ("Basic ICP with 2-3 firmographic criteria but not validated",
             "Written ICP exists but criteria are assumptions, not data-derived"),
            ("ICP with 6-10 attributes validated against best-customer analysis",
             "ICP based on top-decile customer LTV analysis; team can articulate criteria"),
            ("Multi-segment ICP with distinct value propositions per segment",
             "Segment-specific playbooks; win rates tracked by segment"),
            ("AI-driven ICP discovery with dynamic adjustment",
             "ML models identify micro-segments; ICP updates automatically"),
        ),
        red_flags=("ICP created 3+ years ago and never updated", "ICP is a marketing persona sales doesn't use",
                   "no data validation"),
        card="ICP Building Playbook",
    ),
    Dimension(
        key="data_layer",
        name="Data Layer Sophistication",
        measures="Types of data used to define and operationalize segmentation.",
        question="Beyond company name and industry, what data do you have on target accounts — and how complete is it?",
        levels=_levels(
            ("Only basic firmographics; no enrichment", "CRM has industry and employee count; many fields empty"),
            ("Firmographic enrichment from third-party; some technographic data",
             "Enrichment tool deployed but completeness < 60%"),
            ("Firmographic + technographic + behavioral data systematically maintained; > 80% completeness",
             "Enrichment runs automatically; website engagement tracked"),
            ("Intent data integrated; product usage data informs expansion segmentation",
             "Intent signals surface accounts with buying behavior"),
            ("Multi-signal fusion with predictive models scoring propensity",
             "AI synthesizes all data layers into unified account score"),
        ),
        red_flags=("Fewer than 5 attributes per account", "no third-party enrichment",
                   "intent data purchased but not integrated"),
        card="Sales Data Enrichment Strategy",
    ),
    Dimension(
        key="operationalization",
        name="Segmentation Operationalization",
        measures="Whether segmentation drives actual sales behavior and resource allocation.",
        question="Would a rep's daily activity show evidence of segment-based prioritization — "
                 "or does every account get the same treatment?",
        levels=_levels(
            ("Segmentation doesn't influence sales prioritization",
             "Reps choose accounts based on preference, not segment priority"),
            ("Used for territory planning but not daily prioritization",
             "Territories consider segment but daily prospecting is ad hoc"),
            ("Integrated into CRM with account tiers; lead scoring reflects ICP fit",
             "Accounts tagged Tier 1/2/3; segment-specific messaging templates"),
            ("Drives resource allocation (specialists, pricing); segment win rates tracked",
             "Enterprise gets dedicated SE; segment performance informs coaching"),
            ("Real-time signals drive dynamic prioritization and next-best-action",
             "AI recommends which accounts to engage based on real-time signals"),
        ),
        red_flags=("Sales can't explain Tier 1 vs Tier 3 distinction", "no segment tags in CRM",
                   "same outreach for all accounts"),
        card="Segmentation-Driven Sales Playbook",
    ),
    Dimension(
        key="validation",
        name="Validation and Feedback Loops",
        measures="Whether segmentation is validated against outcomes and updated based on performance.",
        question="When did your ICP last change based on win/loss data — and what changed?",
        levels=_levels(
            ("No validation against outcomes; ICP based on untested assumptions",
             "Nobody has compared win rates across segments"),
            ("Occasional analysis but not systematic; ICP drift not monitored",
             "Annual analysis that doesn't change ICP or allocation"),
            ("Quarterly validation of win rate, ACV, LTV by segment; ICP updated on drift",
             "Quarterly report shows segment performance; revision process documented"),
            ("Continuous monitoring with drift alerts; A/B testing of segment hypotheses",
             "Dashboard monitors segment health; drift investigation triggered automatically"),
            ("ML models continuously validate and refine; segments emerge/retire automatically",
             "Model accuracy tracked; segments evolve dynamically"),
        ),
        red_flags=("ICP unchanged 18+ months despite market shifts", "no win/loss analysis by segment",
                   'team believes "we know our customers" without data'),
        card="ICP Validation Framework",
    ),
    Dimension(
        key="alignment",
        name="Cross-Functional Alignment on Segmentation",
        measures="Whether all GTM functions share the same segmentation.",
        question="Would marketing, sales, and product give the same top 3 customer segments in priority order?",
        levels=_levels(
            ("Each function has its own customer view; marketing targets different segments than sales",
             "Marketing campaigns target one segment; sales prospects another"),
            ("Sales and marketing share some segmentation; product and CS disconnected",
             "Sales and marketing agree on ICP but personas don't map to segments"),
            ("Unified segmentation across sales, marketing, CS; segment strategies per function",
             "All functions reference same definitions; content mapped to segments"),
            ("Cross-functional segment reviews; resource allocation coordinated by segment",
             "Quarterly reviews include all functions; budget follows segment strategy"),
            ("Segments orchestrated across entire lifecycle; segment P&L tracked",
             "Product roadmap prioritized by segment ROI; entire GTM coordinated per segment"),
        ),
        red_flags=("Marketing generates leads that don't match sales ICP",
                   "product launches target segments sales isn't pursuing"),
        card="GTM Segmentation Alignment Playbook",
    ),
)
DIMENSION_KEYS: tuple[str, ...] = tuple(d.key for d in DIMENSIONS)
DIMENSIONS_BY_KEY: dict[str, Dimension] = {d.key: d for d in DIMENSIONS}
#: The seed routes a dimension to its card when it scores below this.
WEAK_BELOW = 3.0
ALLOWED_SCORES: tuple[float, ...] = tuple(1 + i / 2 for i in range(9))  # 1, 1.5, ..., 5
ALLOWED_SCORES_TEXT = "1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5"


@dataclass(frozen=True)
class Band:
    name: str
    low: float   # inclusive
    high: float  # exclusive, except the last band which includes 5.0
    interpretation: str
    next_step: str


#: Seed bands 1.0-1.9, 2.0-2.9, ... as closed-open intervals so that no rounded mean falls in a gap.
BANDS: tuple[Band, ...] = (
    Band("Critical", 1.0, 2.0, "No effective segmentation; sales wasting effort on poor-fit accounts",
         "Build foundational ICP from best-customer analysis; implement enrichment"),
    Band("Developing", 2.0, 3.0, "Basic segmentation but not validated or operationalized",
         "Validate ICP against win/loss data; integrate into CRM and lead scoring"),
    Band("Competent", 3.0, 4.0, "Solid ICP with CRM integration; typical for well-run B2B companies",
         "Add behavioral and intent data; build segment-specific sales motions"),
    Band("Advanced", 4.0, 4.6, "Data-rich segmentation driving resource allocation; competitive advantage",
         "Deploy AI-driven segment discovery; build cross-functional orchestration"),
    Band("Best-in-class", 4.6, 5.0, "Dynamic, AI-driven segmentation continuously refined",
         "Maintain through model improvement; explore micro-segmentation"),
)


@dataclass(frozen=True)
class StageBenchmark:
    key: str
    name: str
    expected: float
    good: float
    alarm: float


STAGES: dict[str, StageBenchmark] = {
    b.key: b for b in (
        StageBenchmark("series_a_b", "Series A-B ($2-20M ARR)", 2.0, 2.8, 1.3),
        StageBenchmark("series_c_d", "Series C-D ($20-100M ARR)", 2.8, 3.5, 2.0),
        StageBenchmark("growth", "Growth/Scale ($100M+ ARR)", 3.5, 4.0, 2.8),
        StageBenchmark("enterprise", "Enterprise/Public", 3.8, 4.3, 3.2),
    )
}
Stage = Literal["series_a_b", "series_c_d", "growth", "enterprise"]

# --------------------------------------------------------------------------- ICP maturity levels (seed 004)


@dataclass(frozen=True)
class IcpMaturityLevel:
    number: int
    name: str
    summary: str
    how_to_advance: str


ICP_MATURITY_LEVELS: tuple[IcpMaturityLevel, ...] = (
    IcpMaturityLevel(
        1, "Simple",
        "Broad campaigns on accounts with strong top-of-funnel metrics (opens, clicks, MQLs); ICP definitions "
        "intuition-based with little reliance on data; target account selection ad hoc or non-existent; "
        "sometimes business size is the only segmentation; low to no alignment between sales, marketing and "
        "customer success; unreliable forecasting.",
        "Shift from gut-driven decisions to a data-informed approach: gather more customer insights and align "
        "cross-functional teams around shared goals and definitions."),
    IcpMaturityLevel(
        2, "Foundational",
        "Firmographic data in the ICP; accounts segmented by broad categories (industry verticals, revenue bands, "
        "sales regions); often limited to historical deal metrics like win rates or large deal sizes; target "
        "account selection manual and function-specific; limited GTM alignment from siloed data; inconsistent "
        "forecasting.",
        "Break down data silos and segment with pipeline data such as win rates and average deal size; increase "
        "collaboration between Rev Ops, sales and marketing."),
    IcpMaturityLevel(
        3, "Developing",
        "Segmented GTM campaigns informed by aggregate pipeline metrics (win rates, ACV, sales cycle length); ICP "
        "enhanced by firmographic, technographic and behavioral data; some overlap in target account selection, "
        "but often still one broad ICP segment; more reliable growth and forecasting.",
        "Integrate advanced financial and engagement metrics and strengthen collaboration between finance and "
        "Rev Ops."),
    IcpMaturityLevel(
        4, "Strategic",
        "Highly focused campaigns prioritizing financial metrics (CLV, CAC); AI-driven ICP segment discovery over "
        "financial, firmographic and technographic attributes with dynamic, continuously updated segments; a "
        "unified target account list agreed by all stakeholders; execution measured against ICP segments (e.g. "
        "50% of open pipeline and 70% of closed-won in ICP segments).",
        "Maintain: monitor sales and marketing execution against the ICP segments as they change."),
)


def icp_maturity_level(icp_definition: float, validation: float) -> IcpMaturityLevel:
    """Map the ICP definition score (gated by validation) to a seed-004 level.

    * Strategic: icp_definition >= 4.5 and validation >= 4 (AI-driven discovery *and* continuously updated);
    * Developing: icp_definition >= 3 and validation >= 2 (data-enhanced ICP informed by pipeline metrics);
    * Foundational: icp_definition >= 2 (a written, firmographic ICP);
    * Simple: below 2 (intuition-based).

    A level whose gate fails falls to the next one down.

    >>> icp_maturity_level(3, 1).name
    'Foundational'
    """
    if icp_definition >= 4.5 and validation >= 4:
        return ICP_MATURITY_LEVELS[3]
    if icp_definition >= 3 and validation >= 2:
        return ICP_MATURITY_LEVELS[2]
    if icp_definition >= 2:
        return ICP_MATURITY_LEVELS[1]
    return ICP_MATURITY_LEVELS[0]


# --------------------------------------------------------------------------- answers


class Answers(BaseModel):
    """Self-reported answers: the company stage and a score per dimension (half points allowed).

    >>> Answers(company_stage="growth", scores=dict.fromkeys(DIMENSION_KEYS, 3.5)).scores["alignment"]
    3.5
    """

    model_config = ConfigDict(extra="forbid")

    company_stage: Stage = Field(description="series_a_b | series_c_d | growth | enterprise")
    scores: dict[str, float] = Field(description="A score 1..5 (half points) for each of the five dimensions.")
    notes: dict[str, str] = Field(default_factory=dict, description="Optional free-text notes per dimension.")

    @field_validator("scores", mode="before")
    @classmethod
    def _check_scores(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"must be a mapping of dimension -> score; dimensions: {', '.join(DIMENSION_KEYS)}")
        for key, score in value.items():
            if key not in DIMENSIONS_BY_KEY:
                raise ValueError(f"scores.{key}: unknown dimension; allowed: {', '.join(DIMENSION_KEYS)}")
            if isinstance(score, bool) or not isinstance(score, int | float) or float(score) not in ALLOWED_SCORES:
                raise ValueError(f"scores.{key}: {score!r} is not allowed; allowed: {ALLOWED_SCORES_TEXT}")
        missing = [k for k in DIMENSION_KEYS if k not in value]
        if missing:
            raise ValueError(f"scores: missing {', '.join(missing)}; every dimension needs a score "
                             f"({ALLOWED_SCORES_TEXT})")
        return {k: float(value[k]) for k in DIMENSION_KEYS}

    @field_validator("notes", mode="before")
    @classmethod
    def _check_notes(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, dict):
            for key in value:
                if key not in DIMENSIONS_BY_KEY:
                    raise ValueError(f"notes.{key}: unknown dimension; allowed: {', '.join(DIMENSION_KEYS)}")
        return value


def parse_answers(data: Any, source: str = "answers") -> Answers:
    """Validate answers data; raise :class:`TierwiseError` with one line naming the key and allowed values.

    >>> parse_answers({"scores": {}}, "a.yaml")
    Traceback (most recent call last):
    ...
    tierwise.errors.TierwiseError: a.yaml: company_stage: required; allowed: series_a_b, series_c_d, growth, enterprise; scores: missing icp_definition, data_layer, operationalization, validation, alignment; every dimension needs a score (1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5)
    """
    if not isinstance(data, dict):
        raise TierwiseError(f"{source}: expected a mapping with company_stage, scores and optional notes")
    try:
        return Answers.model_validate(data)
    except ValidationError as exc:
        raise TierwiseError(f"{source}: " + "; ".join(_describe(e) for e in exc.errors())) from None


def load_answers(path: str | Path) -> Answers:
    """Read answers from a YAML or JSON file (JSON is valid YAML)."""
    path = Path(path)
    if not path.exists():
        raise TierwiseError(f"answers file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TierwiseError(f"{path}: invalid YAML/JSON: {getattr(exc, 'problem', None) or exc}") from None
    return parse_answers(data, str(path))


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    kind = error["type"]
    if kind == "missing" and loc == "company_stage":
        return f"company_stage: required; allowed: {', '.join(STAGES)}"
    if kind == "missing":
        return f"{loc}: required"
    if kind == "extra_forbidden":
        return f"{loc}: unknown key; allowed: company_stage, scores, notes"
    if kind == "literal_error" and loc == "company_stage":
        return f"company_stage: {error['input']!r} is not allowed; allowed: {', '.join(STAGES)}"
    message = error["msg"].removeprefix("Value error, ")
    # our validators already name the key (scores.data_layer); pydantic's own do not
    return message if message.startswith(loc) else f"{loc}: {message}"


# --------------------------------------------------------------------------- scoring


def round_overall(mean: float) -> float:
    """Round half up to two decimals (4.595 -> 4.6), avoiding binary-float surprises.

    >>> round_overall(4.595), round_overall(4.594)
    (4.6, 4.59)
    """
    return float(Decimal(repr(mean)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def band_for(overall: float) -> Band:
    """The band of a (rounded) overall score; bands are [low, high), the last one closed at 5.0.

    >>> band_for(4.59).name, band_for(4.6).name
    ('Advanced', 'Best-in-class')
    """
    if not 1.0 <= overall <= 5.0:
        raise ValueError(f"overall score {overall} is outside 1..5")
    for band in BANDS:
        if band.low <= overall < band.high:
            return band
    return BANDS[-1]  # exactly 5.0


def benchmark_verdict(overall: float, stage: StageBenchmark) -> str:
    """``alarm`` at or below the alarm line, else ``below expected`` / ``on track`` / ``ahead``.

    >>> benchmark_verdict(2.8, STAGES["series_c_d"])
    'on track'
    """
    if overall <= stage.alarm:
        return "alarm"
    if overall < stage.expected:
        return "below expected"
    if overall < stage.good:
        return "on track"
    return "ahead"


def assess(answers: Answers) -> dict[str, Any]:
    """Score self-reported answers against the instrument; see the module example."""
    scores = answers.scores
    overall = round_overall(sum(scores[k] for k in DIMENSION_KEYS) / len(DIMENSION_KEYS))
    band = band_for(overall)
    stage = STAGES[answers.company_stage]
    dimensions = []
    for dim in DIMENSIONS:
        level = dim.level_for(scores[dim.key])
        dimensions.append({
            "dimension": dim.key, "name": dim.name, "score": scores[dim.key], "level": level.score,
            "level_name": level.name, "description": level.description, "evidence": level.evidence,
            "weak": scores[dim.key] < WEAK_BELOW, "note": answers.notes.get(dim.key, ""),
        })
    icp = icp_maturity_level(scores["icp_definition"], scores["validation"])
    return {
        "company_stage": answers.company_stage,
        "scores": dict(scores),
        "overall": overall,
        "band": band.name,
        "interpretation": band.interpretation,
        "next_step": band.next_step,
        "weak_dimensions": [
            {"dimension": d.key, "name": d.name, "score": scores[d.key], "card": d.card}
            for d in DIMENSIONS if scores[d.key] < WEAK_BELOW
        ],
        "benchmark": {
            "stage": stage.name, "expected": stage.expected, "good": stage.good, "alarm": stage.alarm,
            "verdict": benchmark_verdict(overall, stage),
        },
        "icp_maturity_level": icp.name,
        "icp_maturity": {"level": icp.number, "name": icp.name, "summary": icp.summary,
                         "how_to_advance": icp.how_to_advance},
        "dimensions": dimensions,
    }


# --------------------------------------------------------------------------- evidence mode

#: Data-layer completeness lines from the seed's level evidence ("< 60%", "> 80%").
COMPLETENESS_LOW = 0.60
COMPLETENESS_HIGH = 0.80
#: Seed red flag: "fewer than 5 attributes per account".
MIN_ATTRIBUTES = 5
#: Seed level 3 of ICP definition: "6-10 attributes".
ICP_MIN_ATTRIBUTES = 6
#: Closed deals needed before win rates by segment mean anything (a judgement call, documented).
MIN_CLOSED_FOR_VALIDATION = 30
#: Seed 002's review cadence: the ICP is refreshed quarterly.
ICP_REFRESH_DAYS = 92
#: A self-reported score this far from the suggestion is listed as a contradiction.
CONTRADICTION_GAP = 1.0


def collect_facts(spec_path: str | Path, *, engine_url: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """Measure what the workspace's data can show: completeness, data types present, rules, outcomes.

    Loads the tables the spec names through the same loader and profile as
    ``tierwise validate`` (without writing any file).

    >>> collect_facts("demo-workspace/spec.yaml")["accounts"]["completeness"]   # doctest: +SKIP
    0.83
    """
    from tierwise.engine import connect
    from tierwise.jobs.workspace import load_workspace, resolve_as_of
    from tierwise.reports.quality import ATTRIBUTE_COLUMNS, profile_accounts
    from tierwise.spec.loader import load_spec

    spec_file = load_spec(spec_path)
    spec = spec_file.spec
    with connect(engine_url or spec.engine) as engine:
        day = resolve_as_of(spec_file, as_of)
        ws = load_workspace(engine, spec_file, tables=("accounts", "activities", "opportunities"))
        accounts = ws.table("accounts")
        profile = profile_accounts(engine, accounts, as_of=day)
        attribute_completeness = {c: v for c, v in profile["completeness"].items() if c in ATTRIBUTE_COLUMNS}
        event_counts: dict[str, int] = {}
        activities = ws.table("activities")
        if activities is not None:
            rows = engine.to_arrow(activities.group_by("event_type").aggregate(n=activities.count())).to_pylist()
            event_counts = {r["event_type"]: int(r["n"]) for r in rows if r["event_type"]}
        opportunities = _opportunity_facts(engine, ws.table("opportunities"))
    signal_types, engagement_types = set(spec.signals.events), set(spec.engagement.events)
    rules = spec.segments.rules
    changed = datetime.fromtimestamp(Path(spec_path).stat().st_mtime, tz=UTC).date()
    return {
        "spec": str(spec_path),
        # the ICP lives in the spec: when the file last changed is the best age the files can give
        "spec_age_days": (datetime.now(UTC).date() - changed).days,
        # drift between scoring runs can be monitored once the history holds two runs to compare
        "recorded_runs": (runs := _recorded_runs(spec_file)),
        "drift_monitoring": runs >= 2,
        "accounts": {
            "rows": profile["rows"],
            "completeness": round(sum(attribute_completeness.values()) / len(attribute_completeness), 4)
            if attribute_completeness else 0.0,
            "completeness_by_column": attribute_completeness,
            "attributes_per_account": profile["attributes_per_account"]["mean"],
            "attributes_of": profile["attributes_per_account"]["of"],
            "tech_stack_share": profile["completeness"].get("tech_stack", 0.0),
        },
        "events": {
            "signal_events": sum(n for t, n in event_counts.items() if t in signal_types),
            "engagement_events": sum(n for t, n in event_counts.items() if t in engagement_types),
            "signal_types_seen": sorted(t for t in event_counts if t in signal_types),
            "engagement_types_seen": sorted(t for t in event_counts if t in engagement_types),
            "unscored_types": sorted(t for t in event_counts if t not in signal_types | engagement_types),
        },
        "spec_rules": {
            "fit_attributes": sorted({c.field for c in spec.fit.criteria if c.field}),
            "fit_criteria": len(spec.fit.criteria),
            "segment_rules": len(rules),
            "routable_segments": sum(1 for r in rules if r.crm or r.owner_role),
            "distinct_motions": len({r.motion for r in rules if r.motion}),
            "tiers": len(spec.tiers),
        },
        "opportunities": opportunities,
    }


def _opportunity_facts(engine: Any, opportunities: Any) -> dict[str, Any]:
    if opportunities is None:
        return {"present": False, "rows": 0, "closed": 0, "won": 0, "quarters": 0}
    o = opportunities
    closed = o.is_closed.fill_null(False) | o.is_won.fill_null(False)
    quarter = (o.closed_at.year() * 4 + o.closed_at.quarter()).name("q")
    row = engine.to_arrow(o.aggregate(
        rows=o.count(),
        closed=closed.cast("int64").sum(),
        won=o.is_won.fill_null(False).cast("int64").sum(),
        quarters=quarter.nunique(where=closed & o.closed_at.notnull()),
    )).to_pylist()[0]
    return {"present": True, **{k: int(v or 0) for k, v in row.items()}}


def suggest_from_facts(facts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Suggest a score per dimension with the evidence sentences behind it.

    ``suggested`` is ``None`` where the data cannot speak to a dimension.
    ``basis`` says how far to trust it: ``measured`` (data_layer: the data is
    what it is), ``ceiling`` (the data shows what the workspace *can* support,
    not whether teams use it) or ``none``. Suggestions never exceed 4: level 5
    needs predictive models or automation the files cannot show.
    """
    acc, ev, rules, opp = facts["accounts"], facts["events"], facts["spec_rules"], facts["opportunities"]
    out: dict[str, dict[str, Any]] = {}

    # data layer: completeness lines 60% / 80%, technographic, behavioural, intent
    completeness, has_tech = acc["completeness"], acc["tech_stack_share"] > 0
    has_behaviour, has_intent = ev["engagement_events"] > 0, ev["signal_events"] > 0
    lines = [f"account attribute completeness is {completeness:.0%} (level 2 evidence: < 60%; level 3: > 80%)",
             f"{acc['attributes_per_account']} of {acc['attributes_of']} attributes filled per account on average",
             f"technographic data (tech_stack) filled on {acc['tech_stack_share']:.0%} of accounts",
             f"{ev['engagement_events']:,} behavioural (engagement) events"
             + (f" ({', '.join(ev['engagement_types_seen'])})" if has_behaviour else ""),
             f"{ev['signal_events']:,} intent/trigger (signal) events"
             + (f" ({', '.join(ev['signal_types_seen'])})" if has_intent else "")]
    if has_tech and has_behaviour and completeness > COMPLETENESS_HIGH:
        data_layer = 4.0 if has_intent else 3.0
    elif has_tech or completeness >= COMPLETENESS_LOW:
        data_layer = 2.0
    else:
        data_layer = 1.0
    if acc["attributes_per_account"] is not None and acc["attributes_per_account"] < MIN_ATTRIBUTES:
        lines.append(f"red flag: fewer than {MIN_ATTRIBUTES} attributes per account caps this at 2")
        data_layer = min(data_layer, 2.0)
    out["data_layer"] = {"suggested": data_layer, "basis": "measured", "evidence": lines}

    # ICP definition: how many attributes the fit criteria use; outcomes to validate them against
    n_attrs, won = len(rules["fit_attributes"]), opp["won"]
    lines = [f"the spec's fit criteria use {n_attrs} account attributes"
             + (f" ({', '.join(rules['fit_attributes'])})" if n_attrs else "")
             + f"; level 3 needs {ICP_MIN_ATTRIBUTES}-10 validated against best customers",
             f"{won:,} won opportunities to validate the ICP against"]
    if n_attrs == 0:
        icp = 1.0
    elif n_attrs < ICP_MIN_ATTRIBUTES or won == 0:
        icp = 2.0
    elif rules["distinct_motions"] >= 2:
        icp = 4.0
        lines.append(f"{rules['segment_rules']} segment rules with {rules['distinct_motions']} distinct motions")
    else:
        icp = 3.0
    age = facts.get("spec_age_days")
    if age is not None:
        lines.append(f"the spec (and so the ICP) last changed {age:,} days before the assessment; the seeds "
                     f"recommend a quarterly ICP refresh" + (" — it is overdue" if age > ICP_REFRESH_DAYS else ""))
    out["icp_definition"] = {"suggested": icp, "basis": "ceiling", "evidence": lines}

    # operationalization: tiers + segment rules that map to CRM values / owner roles
    lines = [f"{rules['segment_rules']} segment rules besides the default; {rules['routable_segments']} map to CRM "
             f"values or owner roles (can drive routing); {rules['tiers']} tiers; {rules['fit_criteria']} fit criteria",
             "the files show what the spec can drive, not whether reps follow it"]
    if rules["segment_rules"] == 0:
        operationalization = 1.0
    elif rules["routable_segments"] == 0 or rules["fit_criteria"] == 0:
        operationalization = 2.0
    elif opp["closed"] > 0 and rules["distinct_motions"] >= 2:
        operationalization = 4.0
        lines.append(f"{rules['distinct_motions']} distinct motions allocate resources by segment and "
                     f"{opp['closed']:,} closed opportunities let segment win rates be tracked")
    else:
        operationalization = 3.0
    out["operationalization"] = {"suggested": operationalization, "basis": "ceiling", "evidence": lines}

    # validation: outcomes to compare win rates by segment, over more than one quarter
    if not opp["present"]:
        lines, validation = ["no opportunities table: win rates by segment cannot be tracked"], 1.0
    else:
        lines = [f"{opp['rows']:,} opportunities, {opp['closed']:,} closed ({opp['won']:,} won) across "
                 f"{opp['quarters']} close quarters"]
        if opp["closed"] == 0:
            validation = 1.0
        elif opp["closed"] < MIN_CLOSED_FOR_VALIDATION or opp["quarters"] < 2:
            validation = 2.0
            lines.append(f"quarterly validation needs at least {MIN_CLOSED_FOR_VALIDATION} closed deals over 2+ quarters")
        else:
            validation = 3.0
            lines.append("enough outcomes for quarterly win-rate validation by segment; whether it happens is a "
                         "question for the team")
    if not facts.get("drift_monitoring"):
        lines.append("no run history is recorded, so drift in scores and segments between runs is not monitored "
                     "(level 4 evidence)" if not facts.get("recorded_runs") else
                     "one scoring run is recorded: drift between runs is monitored from the second (level 4 evidence)")
    else:
        lines.append(f"{facts['recorded_runs']} scoring runs are recorded, so drift between runs can be monitored "
                     "(`tierwise report` compares the latest two)")
    out["validation"] = {"suggested": validation, "basis": "ceiling", "evidence": lines}

    out["alignment"] = {"suggested": None, "basis": "none", "evidence": [
        "the data cannot speak to this: alignment lives in how marketing, sales, CS and product use the segments"]}
    return {k: out[k] for k in DIMENSION_KEYS}


def find_contradictions(suggestions: dict[str, dict[str, Any]], answers: Answers) -> list[dict[str, Any]]:
    """Dimensions where the self-reported score is at least one point from the data's suggestion.

    A claim above the suggestion is always a contradiction; a claim below it only
    where the suggestion is ``measured`` (a ``ceiling`` shows what is possible, and
    a team may well not use everything its spec configures).

    >>> s = {"data_layer": {"suggested": 2.0, "basis": "measured", "evidence": ["completeness is 55%"]}}
    >>> a = Answers(company_stage="growth", scores={**dict.fromkeys(DIMENSION_KEYS, 3), "data_layer": 4})
    >>> find_contradictions(s, a)[0]["direction"]
    'claims more than the data shows'
    """
    out = []
    for key, s in suggestions.items():
        claimed, suggested = answers.scores[key], s["suggested"]
        if suggested is None or abs(claimed - suggested) < CONTRADICTION_GAP:
            continue
        if claimed < suggested and s.get("basis") != "measured":
            continue
        direction = "claims more than the data shows" if claimed > suggested else "the data shows more than claimed"
        out.append({"dimension": key, "claimed": claimed, "suggested": suggested, "direction": direction,
                    "message": f"{key}: self-reported {claimed:g} but the data suggests {suggested:g} — "
                               + "; ".join(s["evidence"][:2])})
    return out


def evidence(spec_path: str | Path, answers: Answers | None = None, *, engine_url: str | None = None) -> dict[str, Any]:
    """Suggested scores from the data and, with answers, where the answers are contradicted.

    >>> evidence("demo-workspace/spec.yaml")["dimensions"]["alignment"]["suggested"] is None   # doctest: +SKIP
    True
    """
    facts = collect_facts(spec_path, engine_url=engine_url)
    suggestions = suggest_from_facts(facts)
    return {"facts": facts, "dimensions": suggestions,
            "contradictions": find_contradictions(suggestions, answers) if answers else []}


# --------------------------------------------------------------------------- the store

STORE_FILE = "assessments.jsonl"


def default_store_dir(base: str | Path | None = None) -> Path:
    """``<base or cwd>/.tierwise``: where assessments are appended as JSON lines."""
    return Path(base or Path.cwd()) / ".tierwise"


def load_history(store_dir: str | Path) -> list[dict[str, Any]]:
    """Every stored assessment, oldest first (an absent store is an empty history)."""
    path = Path(store_dir) / STORE_FILE
    if not path.exists():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise TierwiseError(f"{path}:{n}: not a JSON line ({exc.msg}); fix or remove the line") from None
    return out


def progress_since(previous: dict[str, Any] | None, result: dict[str, Any]) -> dict[str, Any] | None:
    """The previous overall and per-dimension deltas, or ``None`` on the first run.

    >>> progress_since({"recorded_at": "x", "overall": 2.0, "scores": dict.fromkeys(DIMENSION_KEYS, 2.0)},
    ...                {"overall": 2.5, "scores": {**dict.fromkeys(DIMENSION_KEYS, 2.0), "alignment": 4.5}})["deltas"]["alignment"]
    2.5
    """
    if not previous:
        return None
    return {
        "previous_recorded_at": previous.get("recorded_at"),
        "previous_overall": previous["overall"],
        "overall_delta": round(result["overall"] - previous["overall"], 2),
        "deltas": {k: round(result["scores"][k] - previous["scores"][k], 2)
                   for k in DIMENSION_KEYS if k in previous.get("scores", {})},
    }


def record_assessment(store_dir: str | Path, result: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any] | None:
    """Append ``result`` to the store and return the progress since the previous entry."""
    store = Path(store_dir)
    history = load_history(store)
    progress = progress_since(history[-1] if history else None, result)
    entry = {"recorded_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
             "company_stage": result["company_stage"], "overall": result["overall"], "band": result["band"],
             "scores": result["scores"],
             "notes": {d["dimension"]: d["note"] for d in result["dimensions"] if d["note"]}}
    store.mkdir(parents=True, exist_ok=True)
    with (store / STORE_FILE).open("a", encoding="utf-8") as fh:  # append-only: history is never rewritten
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
    return progress


# --------------------------------------------------------------------------- HTML report


def radar_svg(scores: dict[str, float], expected: float | None, *, size: int = 360) -> str:
    """An inline SVG radar of the five dimensions (1..5) against a stage's expected average.

    >>> radar_svg(dict.fromkeys(DIMENSION_KEYS, 3.0), 2.8).startswith("<svg")
    True
    """
    margin = 130  # room on both sides for the dimension names
    cx, cy, radius = size / 2 + margin, size / 2, size / 2 - 50
    n = len(DIMENSION_KEYS)

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * value / 5
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    def polygon(values: list[float], **attrs: str) -> str:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, v) for i, v in enumerate(values)))
        extra = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in attrs.items())
        return f'<polygon points="{pts}" {extra}/>'

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size + 2 * margin} {size}" width="{size + 2 * margin}" height="{size}" '
             f'role="img" aria-label="maturity radar">']
    for ring in range(1, 6):
        parts.append(polygon([ring] * n, fill="none", stroke="#ddd"))
    for i, key in enumerate(DIMENSION_KEYS):
        x, y = point(i, 5)
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="#ccc"/>')
        lx, ly = point(i, 5.6)
        anchor = "middle" if abs(lx - cx) < 10 else ("start" if lx > cx else "end")
        parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="11" text-anchor="{anchor}">'
                     f'{html.escape(DIMENSIONS_BY_KEY[key].name.split(" on ")[0])}</text>')  # short enough to fit
    if expected is not None:
        parts.append(polygon([expected] * n, fill="none", stroke="#888", stroke_dasharray="4 3"))
    parts.append(polygon([scores[k] for k in DIMENSION_KEYS], fill="#2b6cb0", fill_opacity="0.25",
                         stroke="#2b6cb0", stroke_width="2"))
    parts.append("</svg>")
    # the xmlns URI is an identifier, never fetched; drop it so the file holds no URL at all
    return "".join(parts).replace(' xmlns="http://www.w3.org/2000/svg"', "")


def render_html(result: dict[str, Any] | None = None, evidence_result: dict[str, Any] | None = None,
                progress: dict[str, Any] | None = None) -> str:
    """A self-contained HTML report (inline CSS and SVG, no network references).

    >>> "<svg" in render_html(assess(Answers(company_stage="growth", scores=dict.fromkeys(DIMENSION_KEYS, 3))))
    True
    """
    e = html.escape
    body: list[str] = ["<h1>Segmentation maturity assessment</h1>"]
    if result:
        b = result["benchmark"]
        body.append(f"<p class=big>Overall <b>{result['overall']:.2f}</b> — <b>{e(result['band'])}</b>: "
                    f"{e(result['interpretation'])}</p>")
        body.append(f"<p><b>Next step:</b> {e(result['next_step'])}</p>")
        body.append(f"<p>Stage <b>{e(b['stage'])}</b>: expected {b['expected']}, good {b['good']}, alarm "
                    f"{b['alarm']} — <b>{e(b['verdict'])}</b>. ICP maturity level: "
                    f"<b>{e(result['icp_maturity_level'])}</b> — {e(result['icp_maturity']['summary'])}</p>")
        body.append(radar_svg(result["scores"], b["expected"]))
        body.append("<p class=legend>Solid: your scores. Dashed: the stage's expected average.</p>")
        if progress:
            body.append(f"<p>Since {e(str(progress['previous_recorded_at']))}: overall {progress['previous_overall']:.2f} → "
                        f"{result['overall']:.2f} ({progress['overall_delta']:+.2f})</p>")
        rows = "".join(
            f"<tr><td>{e(d['name'])}</td><td>{d['score']:g}</td><td>{d['level']} {e(d['level_name'])}</td>"
            f"<td>{e(d['description'])}</td><td>{_delta_cell(progress, d['dimension'])}</td></tr>"
            for d in result["dimensions"])
        body.append("<h2>Dimensions</h2><table><tr><th>dimension</th><th>score</th><th>level</th><th>description</th>"
                    f"<th>change</th></tr>{rows}</table>")
        if result["weak_dimensions"]:
            items = "".join(f"<li><b>{e(w['name'])}</b> ({w['score']:g}): fetch <i>{e(w['card'])}</i></li>"
                            for w in result["weak_dimensions"])
            body.append(f"<h2>Weak dimensions (below 3)</h2><ul>{items}</ul>")
    if evidence_result:
        rows = "".join(
            f"<tr><td>{e(DIMENSIONS_BY_KEY[k].name)}</td><td>{'—' if s['suggested'] is None else format(s['suggested'], 'g')}"
            f"</td><td>{'<br>'.join(e(x) for x in s['evidence'])}</td></tr>"
            for k, s in evidence_result["dimensions"].items())
        body.append("<h2>Evidence from the data</h2><table><tr><th>dimension</th><th>suggested</th><th>evidence</th>"
                    f"</tr>{rows}</table>")
        if evidence_result["contradictions"]:
            items = "".join(f"<li>{e(c['message'])}</li>" for c in evidence_result["contradictions"])
            body.append(f"<h2>Contradictions</h2><ul>{items}</ul>")
    style = ("body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:4px 8px;"
             "vertical-align:top;text-align:left}.big{font-size:1.3em}.legend{color:#666;font-size:.9em}")
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>tierwise maturity assessment</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def _delta_cell(progress: dict[str, Any] | None, key: str) -> str:
    if not progress or key not in progress["deltas"]:
        return ""
    return f"{progress['deltas'][key]:+g}"


def _recorded_runs(spec_file: Any) -> int:
    """Scoring runs in the workspace's run history (0 when there is none or it cannot be read).

    A DuckDB history file that does not exist is not created by asking.
    """
    from tierwise.store.history import is_postgres_url, open_history, resolve_history

    try:
        target = resolve_history(spec_file.spec.governance.history, spec_file.base_dir)
        if not is_postgres_url(target) and not Path(target.removeprefix("duckdb://")).exists():
            return 0
        with open_history(target) as store:
            return len(store.runs())
    except Exception:  # noqa: BLE001 - evidence, not a requirement: an unreadable store counts as none
        return 0
