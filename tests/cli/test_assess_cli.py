"""``tierwise assess``: answers files, evidence, reports, the store, prompts and clean errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tierwise.cli import main as cli
from tierwise.cli.main import app
from tierwise.reports.assessment import DIMENSION_KEYS

ANSWERS = """\
company_stage: series_c_d
scores: {icp_definition: 3, data_layer: 4, operationalization: 3, validation: 2, alignment: 2}
notes: {alignment: marketing keeps its own list}
"""


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def answers_file(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text(ANSWERS, encoding="utf-8")
    return path


def flat(text: str) -> str:
    """Terminal output with Rich's line wrapping undone."""
    return " ".join(text.split())


def assert_clean_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def test_help_has_an_example(runner):
    result = runner.invoke(app, ["assess", "--help"])
    assert result.exit_code == 0 and "Example:" in result.stdout and "tierwise assess" in result.stdout


def test_no_tty_and_no_answers_exits_1_instead_of_prompting(runner, tmp_path):
    result = runner.invoke(app, ["assess", "--store", str(tmp_path)], input="")
    assert_clean_error(result, "no answers", "--answers")


def test_answers_file_prints_writes_json_html_and_stores(runner, answers_file, tmp_path):
    out_json, out_html, store = tmp_path / "a.json", tmp_path / "a.html", tmp_path / "store"
    args = ["assess", "--answers", str(answers_file), "--json", str(out_json), "--html", str(out_html),
            "--store", str(store)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Overall 2.80 — Developing" in flat(result.stdout) and "on track" in flat(result.stdout)
    payload = json.loads(out_json.read_text(encoding="utf-8"))
    assert payload["assessment"]["band"] == "Developing" and payload["progress"] is None
    assert [w["card"] for w in payload["assessment"]["weak_dimensions"]] == [
        "ICP Validation Framework", "GTM Segmentation Alignment Playbook"]
    page = out_html.read_text(encoding="utf-8")
    assert "<svg" in page and "http://" not in page and "https://" not in page
    assert len((store / "assessments.jsonl").read_text(encoding="utf-8").splitlines()) == 1

    answers_file.write_text(ANSWERS.replace("validation: 2,", "validation: 3.5,"), encoding="utf-8")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "previous overall 2.80" in flat(result.stdout) and "change +0.30" in flat(result.stdout)
    progress = json.loads(out_json.read_text(encoding="utf-8"))["progress"]
    assert progress["deltas"]["validation"] == 1.5 and progress["overall_delta"] == 0.3


@pytest.mark.parametrize(("text", "fragments"), [
    ("company_stage: growth\nscores: {icp_definition: 6, data_layer: 3, operationalization: 3, validation: 3, "
     "alignment: 3}\n", ["scores.icp_definition", "allowed: 1, 1.5"]),
    ("company_stage: growth\nscores: {icp_definition: 2.3, data_layer: 3, operationalization: 3, validation: 3, "
     "alignment: 3}\n", ["scores.icp_definition", "2.3"]),
    ("company_stage: growth\nscores: {vibes: 3}\n", ["scores.vibes", "unknown dimension", "icp_definition"]),
    ("scores: {icp_definition: 3, data_layer: 3, operationalization: 3, validation: 3, alignment: 3}\n",
     ["company_stage", "series_a_b, series_c_d, growth, enterprise"]),
    ("- just\n- a list\n", ["expected a mapping"]),
    ("scores: [unclosed\n", ["invalid YAML"]),
])
def test_bad_answers_give_one_line_errors(runner, tmp_path, text, fragments):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["assess", "--answers", str(path), "--store", str(tmp_path)])
    assert_clean_error(result, *fragments)
    assert not (tmp_path / "assessments.jsonl").exists()


def test_missing_answers_file_and_missing_spec(runner, tmp_path):
    assert_clean_error(runner.invoke(app, ["assess", "--answers", str(tmp_path / "nope.yaml")]), "not found")
    assert_clean_error(runner.invoke(app, ["assess", "--evidence", str(tmp_path / "nope.yaml")]), "not found")


def test_evidence_with_answers_lists_contradictions(runner, tmp_path):
    from tierwise.demo import generate_workspace

    spec = generate_workspace(tmp_path / "demo", accounts=300, seed=7)
    answers = tmp_path / "claims.yaml"
    answers.write_text("company_stage: growth\nscores: {icp_definition: 5, data_layer: 4, operationalization: 3, "
                       "validation: 3, alignment: 3}\n", encoding="utf-8")
    out_json = tmp_path / "e.json"
    result = runner.invoke(app, ["assess", "--answers", str(answers), "--evidence", str(spec), "--json", str(out_json),
                                 "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert "Evidence from the data" in result.stdout and "contradiction: icp_definition" in flat(result.stdout)
    payload = json.loads(out_json.read_text(encoding="utf-8"))
    assert payload["evidence"]["dimensions"]["alignment"]["suggested"] is None
    assert [c["dimension"] for c in payload["evidence"]["contradictions"]] == ["icp_definition"]


def test_evidence_alone_needs_no_answers_and_stores_nothing(runner, tmp_path):
    from tierwise.demo import generate_workspace

    spec = generate_workspace(tmp_path / "demo", accounts=50, seed=3)
    result = runner.invoke(app, ["assess", "--evidence", str(spec), "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert "Evidence from the data" in result.stdout and "Overall" not in result.stdout
    assert not (tmp_path / "store").exists()


def test_interactive_prompts_show_the_instrument(runner, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_stdin_is_interactive", lambda: True)
    # per dimension: an invalid score (re-asked), a valid score, a note; then the stage
    typed = "".join(["7\n2.5\nour note\n"] + ["3\n\n"] * (len(DIMENSION_KEYS) - 1) + ["growth\n"])
    result = runner.invoke(app, ["assess", "--store", str(tmp_path)], input=typed)
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "Show me your ICP document" in out and "Red flags:" in out and "Measures:" in out
    assert "Ad hoc" in out and "Optimized" in out
    assert "Overall 2.90 — Developing" in out and "below expected" in out
    stored = json.loads((tmp_path / "assessments.jsonl").read_text(encoding="utf-8"))
    assert stored["scores"]["icp_definition"] == 2.5 and stored["company_stage"] == "growth"
