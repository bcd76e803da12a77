"""The maturity assessment: bands, benchmarks, routing, answer validation, evidence, store and HTML."""

from __future__ import annotations

import json

import pytest

from tierwise.errors import TierwiseError
from tierwise.reports import assessment as am
from tierwise.reports.assessment import DIMENSION_KEYS, Answers, assess, parse_answers


def answers(stage: str = "series_c_d", **scores: float) -> Answers:
    return Answers(company_stage=stage, scores={**dict.fromkeys(DIMENSION_KEYS, 3.0), **scores})


def uniform(value: float, stage: str = "series_c_d") -> dict:
    return assess(Answers(company_stage=stage, scores=dict.fromkeys(DIMENSION_KEYS, value)))


# --------------------------------------------------------------------------- the instrument as data


def test_instrument_has_five_dimensions_with_five_levels_and_cards():
    assert DIMENSION_KEYS == ("icp_definition", "data_layer", "operationalization", "validation", "alignment")
    for dim in am.DIMENSIONS:
        assert [lv.score for lv in dim.levels] == [1, 2, 3, 4, 5]
        assert [lv.name for lv in dim.levels] == ["Ad hoc", "Emerging", "Defined", "Managed", "Optimized"]
        assert dim.measures and dim.question and dim.red_flags
    assert am.DIMENSIONS_BY_KEY["data_layer"].levels[1].evidence == "Enrichment tool deployed but completeness < 60%"
    assert [lv.name for lv in am.ICP_MATURITY_LEVELS] == ["Simple", "Foundational", "Developing", "Strategic"]


# --------------------------------------------------------------------------- bands


@pytest.mark.parametrize(("overall", "band"), [
    (1.0, "Critical"), (1.99, "Critical"), (2.0, "Developing"), (2.99, "Developing"), (3.0, "Competent"),
    (3.99, "Competent"), (4.0, "Advanced"), (4.59, "Advanced"), (4.6, "Best-in-class"), (5.0, "Best-in-class"),
])
def test_every_band_edge(overall, band):
    assert am.band_for(overall).name == band


def test_band_is_applied_to_the_rounded_overall():
    # 4.595 rounds half up to 4.6: Best-in-class, although the raw mean is below 4.6
    assert am.round_overall(4.595) == 4.6 and am.band_for(am.round_overall(4.595)).name == "Best-in-class"
    assert am.round_overall(4.5949) == 4.59 and am.band_for(am.round_overall(4.5949)).name == "Advanced"
    assert am.round_overall(1.994) == 1.99 and am.band_for(am.round_overall(1.995)).name == "Developing"


def test_band_outside_the_scale_is_an_error():
    with pytest.raises(ValueError):
        am.band_for(0.9)


@pytest.mark.parametrize(("scores", "overall", "band"), [
    ((1, 1, 1, 1, 1), 1.0, "Critical"),
    ((2, 2, 2, 2, 1.5), 1.9, "Critical"),
    ((2, 2, 2, 2, 2), 2.0, "Developing"),
    ((3, 3, 3, 3, 2.5), 2.9, "Developing"),
    ((3, 3, 3, 3, 3), 3.0, "Competent"),
    ((4, 4, 4, 4, 3.5), 3.9, "Competent"),
    ((4, 4, 4, 4, 4), 4.0, "Advanced"),
    ((5, 4.5, 4.5, 4.5, 4.5), 4.6, "Best-in-class"),
    ((4.5, 4.5, 4.5, 4.5, 4.5), 4.5, "Advanced"),
    ((5, 5, 5, 5, 5), 5.0, "Best-in-class"),
])
def test_overall_from_half_points(scores, overall, band):
    result = assess(Answers(company_stage="growth", scores=dict(zip(DIMENSION_KEYS, scores, strict=True))))
    assert (result["overall"], result["band"]) == (overall, band)
    assert result["next_step"] == am.band_for(overall).next_step


def test_next_step_comes_from_the_seed_table():
    assert uniform(1)["next_step"] == "Build foundational ICP from best-customer analysis; implement enrichment"
    assert uniform(5)["next_step"] == "Maintain through model improvement; explore micro-segmentation"


def test_dimension_entries_carry_level_name_and_description():
    result = assess(answers(data_layer=2.5))
    entry = next(d for d in result["dimensions"] if d["dimension"] == "data_layer")
    assert (entry["level"], entry["level_name"]) == (2, "Emerging")
    assert entry["description"].startswith("Firmographic enrichment from third-party")


# --------------------------------------------------------------------------- benchmarks


@pytest.mark.parametrize(("stage", "thresholds"), [
    ("series_a_b", (2.0, 2.8, 1.3)), ("series_c_d", (2.8, 3.5, 2.0)),
    ("growth", (3.5, 4.0, 2.8)), ("enterprise", (3.8, 4.3, 3.2)),
])
def test_every_stage_has_the_seed_thresholds(stage, thresholds):
    b = uniform(3, stage)["benchmark"]
    assert (b["expected"], b["good"], b["alarm"]) == thresholds


@pytest.mark.parametrize(("stage", "value", "verdict"), [
    ("series_a_b", 1.0, "alarm"), ("series_a_b", 1.5, "below expected"), ("series_a_b", 2.0, "on track"),
    ("series_a_b", 2.5, "on track"), ("series_a_b", 3.0, "ahead"),
    ("series_c_d", 2.0, "alarm"), ("series_c_d", 2.5, "below expected"), ("series_c_d", 3.0, "on track"),
    ("series_c_d", 3.5, "ahead"),
    ("growth", 2.5, "alarm"), ("growth", 3.0, "below expected"), ("growth", 3.5, "on track"), ("growth", 4.0, "ahead"),
    ("enterprise", 3.0, "alarm"), ("enterprise", 3.5, "below expected"), ("enterprise", 4.0, "on track"),
    ("enterprise", 4.5, "ahead"),
])
def test_every_stage_and_verdict(stage, value, verdict):
    assert uniform(value, stage)["benchmark"]["verdict"] == verdict


def test_verdict_edges_are_exact():
    stage = am.STAGES["growth"]
    assert am.benchmark_verdict(2.8, stage) == "alarm"
    assert am.benchmark_verdict(2.81, stage) == "below expected"
    assert am.benchmark_verdict(3.49, stage) == "below expected"
    assert am.benchmark_verdict(3.99, stage) == "on track"


# --------------------------------------------------------------------------- routing and ICP maturity


def test_weak_dimensions_route_to_their_cards():
    result = assess(answers(icp_definition=2.5, data_layer=1, operationalization=2, validation=1.5, alignment=2.5))
    assert [(w["dimension"], w["card"]) for w in result["weak_dimensions"]] == [
        ("icp_definition", "ICP Building Playbook"),
        ("data_layer", "Sales Data Enrichment Strategy"),
        ("operationalization", "Segmentation-Driven Sales Playbook"),
        ("validation", "ICP Validation Framework"),
        ("alignment", "GTM Segmentation Alignment Playbook"),
    ]


def test_a_score_of_three_is_not_weak():
    result = assess(answers(validation=2.5))
    assert [w["dimension"] for w in result["weak_dimensions"]] == ["validation"]
    assert result["weak_dimensions"][0]["score"] == 2.5


@pytest.mark.parametrize(("icp", "validation", "level"), [
    (1, 5, "Simple"), (1.5, 3, "Simple"), (2, 1, "Foundational"), (3, 1, "Foundational"), (3, 2, "Developing"),
    (4.5, 3.5, "Developing"), (4.5, 4, "Strategic"), (5, 5, "Strategic"),
])
def test_icp_maturity_mapping(icp, validation, level):
    assert assess(answers(icp_definition=icp, validation=validation))["icp_maturity_level"] == level


# --------------------------------------------------------------------------- invalid answers


def _error(data: dict) -> str:
    with pytest.raises(TierwiseError) as info:
        parse_answers(data, "answers.yaml")
    return str(info.value)


FULL = dict.fromkeys(DIMENSION_KEYS, 3)


def test_score_of_six_names_the_key_and_allowed_values():
    msg = _error({"company_stage": "growth", "scores": {**FULL, "data_layer": 6}})
    assert "scores.data_layer" in msg and "6" in msg and "1, 1.5, 2" in msg and "5" in msg


def test_score_of_two_point_three_is_rejected():
    msg = _error({"company_stage": "growth", "scores": {**FULL, "validation": 2.3}})
    assert "scores.validation" in msg and "2.3" in msg and "allowed: 1, 1.5, 2, 2.5, 3" in msg


def test_unknown_dimension_names_the_allowed_dimensions():
    msg = _error({"company_stage": "growth", "scores": {**FULL, "pricing": 3}})
    assert "scores.pricing" in msg and "unknown dimension" in msg and "icp_definition, data_layer" in msg


def test_missing_stage_names_the_allowed_stages():
    msg = _error({"scores": FULL})
    assert "company_stage" in msg and "series_a_b, series_c_d, growth, enterprise" in msg


def test_bad_stage_and_missing_dimension_and_extra_key():
    assert "series_a_b" in _error({"company_stage": "seed", "scores": FULL})
    msg = _error({"company_stage": "growth", "scores": {k: 3 for k in DIMENSION_KEYS[:4]}})
    assert "missing alignment" in msg
    assert "colour: unknown key" in _error({"company_stage": "growth", "scores": FULL, "colour": "red"})
    assert "notes.pricing" in _error({"company_stage": "growth", "scores": FULL, "notes": {"pricing": "x"}})


def test_booleans_are_not_scores():
    assert "scores.alignment" in _error({"company_stage": "growth", "scores": {**FULL, "alignment": True}})


def test_load_answers_reads_yaml_and_reports_a_missing_file(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("company_stage: growth\nscores: {icp_definition: 3, data_layer: 2.5, operationalization: 3, "
                    "validation: 2, alignment: 4}\nnotes: {alignment: weekly reviews}\n", encoding="utf-8")
    loaded = am.load_answers(path)
    assert loaded.scores["data_layer"] == 2.5 and loaded.notes == {"alignment": "weekly reviews"}
    with pytest.raises(TierwiseError, match="not found"):
        am.load_answers(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- evidence


@pytest.fixture(scope="module")
def demo_spec(tmp_path_factory):
    from tierwise.demo import generate_workspace

    return generate_workspace(tmp_path_factory.mktemp("demo"), accounts=300, seed=7)


def test_evidence_on_the_demo_workspace(demo_spec):
    found = am.evidence(demo_spec)
    dims = found["dimensions"]
    assert list(dims) == list(DIMENSION_KEYS)
    for key in ("icp_definition", "data_layer", "operationalization", "validation"):
        assert dims[key]["suggested"] in am.ALLOWED_SCORES and dims[key]["evidence"]
    assert dims["alignment"]["suggested"] is None and "cannot speak" in dims["alignment"]["evidence"][0]
    facts = found["facts"]
    assert facts["accounts"]["rows"] == 300 and facts["accounts"]["tech_stack_share"] > 0
    assert facts["events"]["signal_events"] > 0 and facts["events"]["engagement_events"] > 0
    assert facts["spec_rules"]["routable_segments"] > 0 and facts["opportunities"]["won"] > 0
    # the demo has technographic, behavioural and intent data above the 80% line
    assert facts["accounts"]["completeness"] > 0.8 and dims["data_layer"]["suggested"] == 4.0
    assert any("completeness" in line for line in dims["data_layer"]["evidence"])
    assert found["contradictions"] == []


def test_evidence_flags_a_claim_the_data_contradicts(demo_spec, make_workspace):
    spec = ("as_of: 2026-11-01\nfit:\n  criteria:\n"
            "    - {name: size, field: employees, bands: [{min: 100, points: 10}]}\n")
    sparse = make_workspace(spec, {
        "accounts.csv": "account_id,name,industry,employees\nA1,Acme,,\nA2,Beta,Software,\nA3,,,40\n"})
    claims = answers("growth", data_layer=4)
    found = am.evidence(sparse, claims)
    assert found["facts"]["accounts"]["completeness"] < 0.6
    assert found["dimensions"]["data_layer"]["suggested"] == 1.0
    assert found["dimensions"]["validation"]["suggested"] == 1.0  # no opportunities at all
    contradiction = next(c for c in found["contradictions"] if c["dimension"] == "data_layer")
    assert contradiction["claimed"] == 4 and contradiction["direction"] == "claims more than the data shows"
    assert "completeness is" in contradiction["message"]
    # under-reporting is a contradiction only where the data measures the dimension directly
    modest = am.evidence(demo_spec, answers("growth", icp_definition=2, data_layer=2, operationalization=1, validation=1))
    assert [c["dimension"] for c in modest["contradictions"]] == ["data_layer"]


def test_contradictions_need_a_full_point():
    suggestions = {"data_layer": {"suggested": 2.0, "basis": "measured", "evidence": ["x"]},
                   "alignment": {"suggested": None, "basis": "none", "evidence": ["y"]}}
    assert am.find_contradictions(suggestions, answers(data_layer=2.5)) == []
    assert len(am.find_contradictions(suggestions, answers(data_layer=3))) == 1


# --------------------------------------------------------------------------- store and HTML


def test_store_shows_progress_on_the_second_run(tmp_path):
    first = assess(answers(validation=2))
    assert am.record_assessment(tmp_path, first) is None
    second = assess(answers(validation=3.5, alignment=4))
    progress = am.record_assessment(tmp_path, second)
    assert progress["previous_overall"] == first["overall"]
    assert progress["overall_delta"] == round(second["overall"] - first["overall"], 2)
    assert progress["deltas"]["validation"] == 1.5 and progress["deltas"]["alignment"] == 1.0
    lines = (tmp_path / "assessments.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["overall"] == second["overall"]


def test_a_corrupt_store_line_is_a_located_error(tmp_path):
    (tmp_path / "assessments.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(TierwiseError, match="assessments.jsonl:1"):
        am.load_history(tmp_path)


def test_html_is_self_contained_with_a_radar(demo_spec):
    result = assess(answers(data_layer=1.5, alignment=2))
    page = am.render_html(result, am.evidence(demo_spec), {"previous_recorded_at": "2026-01-01", "previous_overall": 2.5,
                                                           "overall_delta": 0.1, "deltas": {"data_layer": -0.5}})
    assert "<svg" in page and "<polygon" in page
    assert "http://" not in page and "https://" not in page
    assert "Sales Data Enrichment Strategy" in page and "GTM Segmentation Alignment Playbook" in page
    assert result["next_step"] in page and "Evidence from the data" in page


def test_evidence_reports_the_icp_age_and_that_drift_is_not_monitored(tmp_path):
    import os
    import time

    from tierwise.demo import generate_workspace
    from tierwise.reports.assessment import evidence

    spec = generate_workspace(tmp_path / "ws", accounts=200, events_per_account=5)
    old = time.time() - 200 * 86_400
    os.utime(spec, (old, old))
    result = evidence(spec)
    assert result["facts"]["drift_monitoring"] is False
    icp_lines = " ".join(result["dimensions"]["icp_definition"]["evidence"])
    assert "quarterly ICP refresh — it is overdue" in icp_lines
    assert any("drift" in line for line in result["dimensions"]["validation"]["evidence"])


def test_evidence_counts_the_recorded_runs_for_drift_monitoring(tmp_path):
    from datetime import timedelta

    from tierwise.demo import generate_workspace
    from tierwise.jobs.score import score
    from tierwise.reports.assessment import evidence
    from tierwise.spec.loader import load_spec

    spec = generate_workspace(tmp_path / "ws", accounts=200, events_per_account=5)
    spec_file = load_spec(spec)
    score(spec_file, tmp_path / "earlier", as_of=spec_file.spec.as_of - timedelta(days=91))
    once = evidence(spec)
    assert once["facts"]["recorded_runs"] == 1 and once["facts"]["drift_monitoring"] is False
    score(spec_file, tmp_path / "now")
    twice = evidence(spec)
    assert twice["facts"]["recorded_runs"] == 2 and twice["facts"]["drift_monitoring"] is True
    assert any("2 scoring runs are recorded" in line for line in twice["dimensions"]["validation"]["evidence"])
