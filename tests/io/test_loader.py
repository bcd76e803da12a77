"""Loaders: typing, normalisation and quarantine on deliberately broken files.

Every row read is loaded or quarantined with a reason (``read == loaded + quarantined``).
"""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tierwise.errors import DataError
from tierwise.io.loader import load_table
from tierwise.spec.model import SourceSpec


@pytest.fixture
def load(engine, tmp_path):
    """``load(table, csv_text, **source_options)`` -> TableLoad; ``accounts=`` a clean accounts table."""

    def run(table: str, text: str | None = None, *, accounts=None, file: Path | None = None, **options):
        if file is None:
            file = tmp_path / f"{table}.csv"
            file.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        source = SourceSpec(path=file.name, **options)
        result = load_table(engine, table, source, file, accounts=accounts)
        assert result.read == result.loaded + result.quarantined, "every row is loaded or quarantined"
        return result

    return run


def quarantined(rows_of, result) -> list[tuple[int, str]]:
    return [(r["_row"], r["_reason"]) for r in rows_of(result.quarantine)]


def clean(rows_of, result, *columns: str) -> list[dict]:
    return rows_of(result.clean.order_by("_row").select("_row", *columns))


# --------------------------------------------------------------------------- row checks


def test_accounts_quarantine_reasons(load, rows_of):
    result = load("accounts", """\
        account_id,employees,annual_revenue,is_customer,updated_at
        A1,120,1000,yes,2026-10-01
        A2,lots,n/a,maybe,2026-13-45
        A1,5,1,no,2026-10-02
        ,7,1,,
        A3,-3,-10,,
        A4,12.5,0,Y,2026-10-01 09:30:00
        A5,1.0,,FALSE,
        """)
    assert (result.read, result.loaded, result.quarantined) == (7, 2, 5)
    assert quarantined(rows_of, result) == [
        (2, "unparsable int in employees: 'lots'; unparsable float in annual_revenue: 'n/a'; "
            "unparsable bool in is_customer: 'maybe'; unparsable timestamp in updated_at: '2026-13-45'"),
        (3, "duplicate account_id 'A1' (first at row 1)"),
        (4, "missing account_id"),
        (5, "negative employees: -3; negative annual_revenue: -10"),
        (6, "unparsable int in employees: '12.5'"),
    ]
    assert clean(rows_of, result, "account_id", "employees", "is_customer", "updated_at") == [
        {"_row": 1, "account_id": "A1", "employees": 120, "is_customer": True, "updated_at": datetime(2026, 10, 1)},
        {"_row": 7, "account_id": "A5", "employees": 1, "is_customer": False, "updated_at": None},
    ]
    assert result.reasons["duplicate account_id"] == 1
    assert result.reasons["unparsable int in employees"] == 2


def test_blank_and_padded_text_cells(load, rows_of):
    """Whitespace-only cells are missing; padding is trimmed before keys are compared (tab, newline too)."""
    result = load("accounts", 'account_id,name\nA1,Acme\n"  ",Blank\n"\t",Tab\n" A1 ",Padded\n"A2\t", Beta \n'
                  '"\nA3",x\n')
    assert quarantined(rows_of, result) == [
        (2, "missing account_id"),
        (3, "missing account_id"),
        (4, "duplicate account_id 'A1' (first at row 1)"),
    ]
    assert clean(rows_of, result, "account_id", "name") == [
        {"_row": 1, "account_id": "A1", "name": "Acme"},
        {"_row": 5, "account_id": "A2", "name": "Beta"},
        {"_row": 6, "account_id": "A3", "name": "x"},
    ]


def test_quarantine_keeps_the_raw_text(load, rows_of):
    result = load("accounts", "account_id,employees,name\nA1, lots ,Acme\n")
    (row,) = rows_of(result.quarantine)
    assert row["_reason"] == "unparsable int in employees: 'lots'"
    assert (row["account_id"], row["employees"], row["name"]) == ("A1", " lots ", "Acme")


def test_opportunity_checks(load, rows_of):
    accounts = load("accounts", "account_id\nA1\nA2\n").clean
    result = load("opportunities", """\
        opportunity_id,account_id,amount,created_at,closed_at
        O1,A1,1000,2026-01-10,2026-02-01
        O2,A1,-5,2026-01-10,
        O3,ZZ,10,2026-01-10,
        O4,A2,10,2026-13-01,
        O5,A2,10,2026-03-01,2026-02-28
        O6,,10,2026-01-10,
        O7,A2,"$1,200.50",2026-03-01,2026-03-01
        O8,A2,5,,
        """, accounts=accounts)
    assert quarantined(rows_of, result) == [
        (2, "negative amount: -5"),
        (3, "unknown account_id 'ZZ' (not in accounts)"),
        (4, "unparsable date in created_at: '2026-13-01'"),
        (5, "closed_at before created_at"),
        (6, "missing account_id"),
        (8, "missing created_at"),
    ]
    assert clean(rows_of, result, "opportunity_id", "amount", "created_at") == [
        {"_row": 1, "opportunity_id": "O1", "amount": 1000.0, "created_at": date(2026, 1, 10)},
        {"_row": 7, "opportunity_id": "O7", "amount": 1200.5, "created_at": date(2026, 3, 1)},
    ]


def test_activities_reference_accounts_and_need_a_timestamp(load, rows_of):
    accounts = load("accounts", "account_id\nA1\n").clean
    result = load("activities", """\
        account_id,event_type,occurred_at
        A1,demo_request,2026-10-01 10:00:00
        A9,demo_request,2026-10-01
        A1,,2026-10-01
        A1,demo_request,yesterday
        """, accounts=accounts)
    assert quarantined(rows_of, result) == [
        (2, "unknown account_id 'A9' (not in accounts)"),
        (3, "missing event_type"),
        (4, "unparsable timestamp in occurred_at: 'yesterday'"),
    ]
    assert result.loaded == 1


def test_transactions_allow_negative_amounts(load, rows_of):
    accounts = load("accounts", "account_id\nA1\n").clean
    result = load("transactions", "account_id,occurred_at,amount\nA1,2026-01-01,-50\nA1,2026-01-02,\"1,000\"\n",
                  accounts=accounts)
    assert result.quarantined == 0
    assert [r["amount"] for r in clean(rows_of, result, "amount")] == [-50.0, 1000.0]


# --------------------------------------------------------------------------- file shape


def test_malformed_lines_are_quarantined_with_row_and_raw_line(load, rows_of):
    result = load("accounts", """\
        account_id,name,employees
        A1,Acme,10
        A2,Too,many,columns
        A3,Short
        A4,"Quoted, with comma",30
        """)
    assert (result.read, result.loaded, result.quarantined) == (4, 2, 2)
    rows = rows_of(result.quarantine)
    assert [(r["_row"], r["_line"]) for r in rows] == [(2, "A2,Too,many,columns"), (3, "A3,Short")]
    assert rows[0]["_reason"].startswith("malformed line (too many columns")
    assert rows[1]["_reason"].startswith("malformed line (missing columns")
    assert result.reasons["malformed line"] == 2
    # rows after a malformed line keep their own row numbers
    assert clean(rows_of, result, "account_id", "name") == [
        {"_row": 1, "account_id": "A1", "name": "Acme"},
        {"_row": 4, "account_id": "A4", "name": "Quoted, with comma"},
    ]


def test_a_short_line_counts_once(load, rows_of):
    """A line missing several columns is one quarantined row, not one per missing column."""
    result = load("accounts", "account_id,a,b,c,d\nA1,1,2,3,4\nA2\nA3,1,2,3,4\n", attributes={
        "a": "int", "b": "int", "c": "int", "d": "int"})
    assert (result.read, result.loaded, result.quarantined) == (3, 2, 1)
    assert [r["_row"] for r in rows_of(result.quarantine)] == [2]
    assert [r["_row"] for r in clean(rows_of, result)] == [1, 3]


def test_whitespace_is_trimmed_and_blank_lines_are_skipped(load, rows_of):
    result = load("accounts", "account_id,name,employees\n  A1 ,  Acme Inc  , 1 200 \nA2,,\n\n\n")
    assert (result.read, result.loaded, result.quarantined) == (2, 2, 0)
    assert clean(rows_of, result, "account_id", "name", "employees") == [
        {"_row": 1, "account_id": "A1", "name": "Acme Inc", "employees": 1200},
        {"_row": 2, "account_id": "A2", "name": None, "employees": None},
    ]


def test_blank_line_in_the_middle_is_not_a_row(load, rows_of):
    result = load("accounts", "account_id,employees\nA1,1\n\nA2,2\nA3,x\n")
    assert (result.read, result.loaded, result.quarantined) == (3, 2, 1)
    assert [r["account_id"] for r in clean(rows_of, result, "account_id")] == ["A1", "A2"]


def test_row_numbers_after_a_blank_line_follow_the_file(load, rows_of):
    result = load("accounts", "account_id,employees\nA1,1\n\nA2,x\n")
    assert quarantined(rows_of, result) == [(3, "unparsable int in employees: 'x'")]


def test_row_numbers_after_blank_and_malformed_lines_follow_the_file(load, rows_of):
    """Rows are numbered by file line (minus the header) whatever the reader skipped."""
    text = "account_id,employees\nA1,1\n\n\nA2,1,extra\nA3,x\n\nA4,y\n\n"
    result = load("accounts", text)
    rows = quarantined(rows_of, result)
    assert [r[0] for r in rows] == [4, 5, 7]
    assert rows[1:] == [(5, "unparsable int in employees: 'x'"), (7, "unparsable int in employees: 'y'")]
    assert (result.read, result.loaded, result.quarantined) == (4, 1, 3)


def test_custom_delimiter(load, rows_of):
    result = load("accounts", "account_id;employees;tech_stack\nA1;1.500;a|B\n", delimiter=";", list_delimiter="|")
    # '.' is not a thousands separator: 1.500 is not a whole number
    assert quarantined(rows_of, result) == [(1, "unparsable int in employees: '1.500'")]
    result = load("accounts", "account_id;tech_stack\nA1;a|B| a\n", delimiter=";", list_delimiter="|")
    assert clean(rows_of, result, "tech_stack") == [{"_row": 1, "tech_stack": ["a", "b"]}]


# --------------------------------------------------------------------------- normalisation


def test_numbers_with_thousands_separators_and_currency(load, rows_of):
    result = load("accounts", """\
        account_id,employees,annual_revenue,revenue_growth
        A1,"1,200","$5,000,000",0.25
        A2, 300 ,"€ 1 000.50",-0.5
        A3,1e3,£7,
        """)
    assert result.quarantined == 0
    assert clean(rows_of, result, "employees", "annual_revenue", "revenue_growth") == [
        {"_row": 1, "employees": 1200, "annual_revenue": 5_000_000.0, "revenue_growth": 0.25},
        {"_row": 2, "employees": 300, "annual_revenue": 1000.5, "revenue_growth": -0.5},
        {"_row": 3, "employees": 1000, "annual_revenue": 7.0, "revenue_growth": None},
    ]


def test_revenue_growth_below_minus_one_is_out_of_range(load, rows_of):
    result = load("accounts", "account_id,revenue_growth\nA1,-1.5\n")
    assert quarantined(rows_of, result) == [(1, "below minimum revenue_growth: -1.5")]


def test_tech_stack_is_a_sorted_distinct_lower_case_list(load, rows_of):
    result = load("accounts", """\
        account_id,tech_stack
        A1,"Snowflake; salesforce;SNOWFLAKE; ;Segment ;"
        A2,
        A3,HubSpot
        """)
    assert [r["tech_stack"] for r in clean(rows_of, result, "tech_stack")] == [
        ["salesforce", "segment", "snowflake"], None, ["hubspot"],
    ]


def test_domain_is_normalised_and_falls_back_to_website(load, rows_of):
    result = load("accounts", """\
        account_id,domain,website
        A1,HTTPS://WWW.Acme.COM/about,
        A2,,http://www.beta.io:8080/x?y=1
        A3,gamma.com,https://other.com
        A4,,
        A5,www.Delta.co.uk,
        """)
    assert [r["domain"] for r in clean(rows_of, result, "domain")] == [
        "acme.com", "beta.io", "gamma.com", None, "delta.co.uk",
    ]


def test_emails_are_lower_case(load, rows_of):
    result = load("contacts", "contact_id,email\nC1, Jane.Doe@Example.COM \n")
    assert clean(rows_of, result, "email") == [{"_row": 1, "email": "jane.doe@example.com"}]


def test_bool_spellings(load, rows_of):
    result = load("accounts", "account_id,is_customer\nA1,TRUE\nA2,f\nA3,Yes\nA4,n\nA5,1\nA6,0\nA7,\n")
    assert [r["is_customer"] for r in clean(rows_of, result, "is_customer")] == [
        True, False, True, False, True, False, None,
    ]


def test_absent_optional_columns_are_typed_nulls(load, rows_of):
    result = load("accounts", "account_id\nA1\n")
    assert "employees" in result.missing_optional and "tech_stack" in result.missing_optional
    schema = result.clean.schema()
    assert schema["employees"].is_integer() and schema["tech_stack"].is_array()
    assert clean(rows_of, result, "employees", "tech_stack") == [{"_row": 1, "employees": None, "tech_stack": None}]


# --------------------------------------------------------------------------- columns, presets, formats


def test_missing_required_column_names_file_column_and_present_columns(load, tmp_path):
    with pytest.raises(DataError) as info:
        load("accounts", "id,name,employees\n1,Acme,10\n")
    message = str(info.value)
    assert message == (
        f"{tmp_path / 'accounts.csv'}: required column 'account_id' not found (looked for 'account_id'); "
        "columns present: id, name, employees. Map it in the spec under data.accounts.columns.account_id"
    )
    assert "\n" not in message


def test_explicitly_mapped_column_must_exist(load, tmp_path):
    with pytest.raises(DataError, match=r"column 'Staff' \(mapped to accounts\.employees in the spec\) not found; "
                                        r"columns present: account_id, employees"):
        load("accounts", "account_id,employees\nA1,5\n", columns={"employees": "Staff"})


def test_missing_file(load, tmp_path, engine):
    with pytest.raises(DataError, match=r"accounts: file not found: .*nope\.csv \(data\.accounts\.path in the spec\)"):
        load_table(engine, "accounts", SourceSpec(path="nope.csv"), tmp_path / "nope.csv")


def test_headers_match_case_insensitively(load, rows_of):
    result = load("accounts", "Account_ID,EMPLOYEES\nA1,5\n")
    assert clean(rows_of, result, "account_id", "employees") == [{"_row": 1, "account_id": "A1", "employees": 5}]
    assert result.columns["account_id"] == "Account_ID"


def test_custom_columns_mapping_overrides_the_canonical_name(load, rows_of):
    result = load("accounts", "Company,Staff,employees\nA1,7,999\n",
                  columns={"account_id": "Company", "employees": "Staff"})
    assert clean(rows_of, result, "account_id", "employees") == [{"_row": 1, "account_id": "A1", "employees": 7}]


def test_salesforce_preset(load, rows_of):
    result = load("accounts", """\
        Id,Name,NumberOfEmployees,AnnualRevenue,BillingCountry,Website,Industry,OwnerId,LastModifiedDate
        001A,Acme,"2,500",125000000,US,https://www.acme.com,Software,005X,2026-10-01T12:00:00
        """, preset="salesforce")
    (row,) = clean(rows_of, result, "account_id", "name", "employees", "annual_revenue", "country", "domain",
                   "industry", "owner_id", "updated_at")
    assert row == {"_row": 1, "account_id": "001A", "name": "Acme", "employees": 2500, "annual_revenue": 125e6,
                   "country": "US", "domain": "acme.com", "industry": "Software", "owner_id": "005X",
                   "updated_at": datetime(2026, 10, 1, 12, 0)}
    assert result.columns["employees"] == "NumberOfEmployees"


def test_salesforce_opportunity_preset(load, rows_of):
    accounts = load("accounts", "Id\n001A\n", preset="salesforce").clean
    result = load("opportunities", """\
        Id,AccountId,StageName,Amount,CreatedDate,CloseDate,IsClosed,IsWon
        006A,001A,Closed Won,"$12,000",2026-01-05,2026-02-01,true,true
        """, accounts=accounts, preset="salesforce")
    assert clean(rows_of, result, "opportunity_id", "account_id", "stage", "amount", "is_won") == [
        {"_row": 1, "opportunity_id": "006A", "account_id": "001A", "stage": "Closed Won", "amount": 12000.0,
         "is_won": True},
    ]


def test_hubspot_preset(load, rows_of):
    result = load("accounts", """\
        Record ID,Company name,Company Domain Name,Number of Employees,Annual Revenue,Country/Region,Industry
        9001,Beta,WWW.Beta.io,45,"2,000,000",Germany,COMPUTER_SOFTWARE
        """, preset="hubspot")
    assert clean(rows_of, result, "account_id", "name", "domain", "employees", "annual_revenue", "country") == [
        {"_row": 1, "account_id": "9001", "name": "Beta", "domain": "beta.io", "employees": 45,
         "annual_revenue": 2e6, "country": "Germany"},
    ]


def test_preset_column_can_be_overridden(load, rows_of):
    result = load("accounts", "Id,Employee_Count__c,NumberOfEmployees\n001A,12,99\n", preset="salesforce",
                  columns={"employees": "Employee_Count__c"})
    assert clean(rows_of, result, "employees") == [{"_row": 1, "employees": 12}]


def test_attributes_are_loaded_with_their_types(load, rows_of):
    result = load("accounts", "account_id,nps,churned,tools,signup\nA1,42,yes,A;b,2026-01-02\nA2,x,,,\n",
                  attributes={"nps": "int", "churned": "bool", "tools": "list", "signup": "date"})
    assert quarantined(rows_of, result) == [(2, "unparsable int in nps: 'x'")]
    assert clean(rows_of, result, "nps", "churned", "tools", "signup") == [
        {"_row": 1, "nps": 42, "churned": True, "tools": ["a", "b"], "signup": date(2026, 1, 2)},
    ]


def test_attributes_are_usable_in_rules(make_workspace, tmp_path):
    from tierwise.jobs.score import score

    spec_path = make_workspace("""\
        fit:
          weight: 100
          criteria:
            - {name: promoter, field: nps, at_least: 50, points: 10}
        signals: {weight: 0}
        engagement: {weight: 0}
        segments:
          rules:
            - {name: Churned, when: "churned and 'erp' in tools"}
          default: {name: Rest}
        """, {"accounts.csv": "account_id,nps,churned,tools\nA1,70,no,ERP\nA2,10,yes,erp;crm\n"},
        data="""\
        data:
          accounts:
            path: accounts.csv
            attributes: {nps: int, churned: bool, tools: list}
        """)
    rows = pq.read_table(score(spec_path, tmp_path / "out", as_of=date(2026, 11, 1)).files["parquet"]).to_pylist()
    assert [(r["account_id"], r["fit_score"], r["segment"]) for r in rows] == [
        ("A1", 100.0, "Rest"), ("A2", 0.0, "Churned"),
    ]


def test_parquet_gives_the_same_clean_rows_as_csv(load, rows_of, tmp_path):
    csv = """\
        account_id,name,employees,annual_revenue,tech_stack,is_customer,updated_at
        A1,Acme,1200,5000000.5,salesforce;Snowflake,true,2026-10-01 09:30:00
        A2,Beta,,,,false,
        A3,Gamma,-4,1,,,
        """
    from_csv = load("accounts", csv)
    table = pa.table({
        "account_id": ["A1", "A2", "A3"],
        "name": ["Acme", "Beta", "Gamma"],
        "employees": pa.array([1200, None, -4], pa.int64()),
        "annual_revenue": pa.array([5000000.5, None, 1.0]),
        "tech_stack": pa.array([["salesforce", "Snowflake"], None, None], pa.list_(pa.string())),
        "is_customer": pa.array([True, False, None]),
        "updated_at": pa.array([datetime(2026, 10, 1, 9, 30), None, None], pa.timestamp("us")),
    })
    file = tmp_path / "accounts.parquet"
    pq.write_table(table, file)
    from_parquet = load("accounts", file=file)
    columns = ["account_id", "name", "employees", "annual_revenue", "tech_stack", "is_customer", "updated_at"]
    assert clean(rows_of, from_parquet, *columns) == clean(rows_of, from_csv, *columns)
    assert (from_parquet.read, from_parquet.loaded, from_parquet.quarantined) == (3, 2, 1)
    assert quarantined(rows_of, from_parquet) == quarantined(rows_of, from_csv) == [(3, "negative employees: -4")]


def test_parquet_with_text_columns_is_parsed_like_csv(load, rows_of, tmp_path):
    file = tmp_path / "accounts.parquet"
    pq.write_table(pa.table({"account_id": ["A1", "A2"], "employees": ["1,200", "many"]}), file)
    result = load("accounts", file=file)
    assert clean(rows_of, result, "employees") == [{"_row": 1, "employees": 1200}]
    assert quarantined(rows_of, result) == [(2, "unparsable int in employees: 'many'")]


# --------------------------------------------------------------------------- whole workspace


def test_every_table_reconciles_in_a_workspace(make_workspace, tmp_path):
    """validate loads all seven tables and writes per-table quarantine files and a load summary."""
    import json

    from tierwise.jobs.score import validate

    spec_path = make_workspace("fit: {criteria: [{name: size, field: employees, at_least: 1, points: 1}]}\n", {
        "accounts.csv": "account_id,domain,updated_at\nA1,acme.com,2026-10-30\nA2,acme.com,2026-01-01\nA2,x,\n",
        "reps.csv": "rep_id,capacity\nR1,10\nR2,-1\n",
        "contacts.csv": "contact_id,account_id,email\nC1,A1,a@acme.com\nC2,A9,b@acme.com\n",
        "leads.csv": "lead_id,employees\nL1,5\nL2,five\n",
        "opportunities.csv": "opportunity_id,account_id,created_at\nO1,A1,2026-01-01\nO1,A1,2026-01-02\n",
        "activities.csv": "account_id,event_type,occurred_at\nA1,demo,2026-10-01\nA1,demo,\n",
        "transactions.csv": "account_id,occurred_at,amount\nA1,2026-01-01,5\nA3,2026-01-01,5\n",
    })
    out = tmp_path / "out"
    result = validate(spec_path, out, as_of=date(2026, 11, 1))
    assert set(result.tables) == {"accounts", "reps", "contacts", "leads", "opportunities", "activities",
                                  "transactions"}
    for name, summary in result.tables.items():
        assert summary["read"] == summary["loaded"] + summary["quarantined"], name
        assert summary["reconciles"] is True
        assert (summary["read"], summary["quarantined"]) == (2 if name != "accounts" else 3, 1), name
        assert (out / "quarantine" / f"{name}.csv").exists(), name
    assert result.quarantined == 7
    assert json.loads((out / "load_summary.json").read_text()) == result.tables
    quality = json.loads((out / "quality.json").read_text())
    assert quality["accounts"]["rows"] == 2
    assert quality["accounts"]["duplicate_domains"]["domains"] == 1
    assert quality["accounts"]["staleness"]["stale_records"] == 1
    text = (out / "quarantine" / "accounts.csv").read_text()
    assert text.splitlines()[0].startswith("_row,_reason,account_id")
    assert "duplicate account_id 'A2' (first at row 2)" in text
