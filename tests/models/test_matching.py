"""Lead-to-account matching: domains first, then fuzzy names, tie-breakers, and never a lost lead."""

from __future__ import annotations

import random
import re
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from rapidfuzz import fuzz, process

from tierwise.errors import DataError
from tierwise.models import matching
from tierwise.models.matching import (
    COLUMNS,
    LeadAccountMatcher,
    normalise_company,
    normalise_domain,
    registrable_domain,
)


@pytest.fixture(autouse=True, params=["arrow", "scalar"])
def column_path(request, monkeypatch):
    """Every test runs twice: columns normalised with pyarrow (also for a few values), and value by value
    with the scalar functions (what small batches and columns of other types get)."""
    size = 0 if request.param == "arrow" else sys.maxsize
    monkeypatch.setattr(matching, "_ARROW_FROM", size)
    monkeypatch.setattr(matching, "_LOOKUP_IN_ARROW", size)
    return request.param


def _accounts(**extra) -> pd.DataFrame:
    base = {
        "account_id": ["A1", "A2", "A3", "A4"],
        "name": ["Acme Inc.", "Globex Corporation", "Initech Ltd", "Umbrella GmbH"],
        "domain": ["acme.com", None, "initech.co.uk", None],
        "website": [None, "https://www.globex.de/en/", None, None],
        "owner_id": ["R1", None, "R2", None],
        "employees": [500, 200, 50, 10],
    }
    base.update(extra)
    return pd.DataFrame(base)


def _match(leads: dict, accounts: pd.DataFrame | None = None, **params) -> pd.DataFrame:
    matcher = LeadAccountMatcher(**params).fit(_accounts() if accounts is None else accounts)
    return matcher.match(pd.DataFrame(leads))


def _row(out: pd.DataFrame, i: int = 0) -> dict:
    return out.iloc[i].to_dict()


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("text, expected", [
    ("acme.com", "acme.com"),
    ("  HTTPS://WWW.Acme.com/about-us?x=1#top ", "acme.com"),
    ("http://acme.com:8080", "acme.com"),
    ("www.shop.acme.co.uk.", "shop.acme.co.uk"),
    ("ftp://files.acme.io/a", "files.acme.io"),
    ("n/a", None), ("localhost", None), ("acme com", None), ("", None), (None, None), (float("nan"), None),
])
def test_normalise_domain(text, expected):
    assert normalise_domain(text) == expected


@pytest.mark.parametrize("domain, expected", [
    ("acme.com", "acme.com"), ("mail.acme.com", "acme.com"), ("a.b.eu.acme.com", "acme.com"),
    ("shop.acme.co.uk", "acme.co.uk"), ("acme.co.uk", "acme.co.uk"), ("mail.acme.com.au", "acme.com.au"),
    ("co.uk", "co.uk"), ("acme.de", "acme.de"),
])
def test_registrable_domain(domain, expected):
    assert registrable_domain(domain) == expected


@pytest.mark.parametrize("text, expected", [
    ("Acme Inc.", "acme"),
    ("ACME, Inc", "acme"),
    ("Acme L.L.C.", "acme"),
    ("Acme Holdings Co. Ltd", "acme holdings"),
    ("Société Générale S.A.", "societe generale"),
    ("Müller & Söhne GmbH & Co. KG", "muller and sohne"),
    ("Procter & Gamble", "procter and gamble"),
    ("The Coca-Cola Company", "coca cola"),
    ("McDonald's Corp", "mcdonalds"),
    ("Yahoo!", "yahoo"),
    ("Co-operative Bank plc", "co operative bank"),
    ("Inc.", "inc"),  # nothing but a legal form: kept rather than emptied
    ("  ", None), ("!!!", None), (None, None),
])
def test_normalise_company(text, expected):
    assert normalise_company(text) == expected


# --------------------------------------------------------------------------- domains


def test_exact_email_domain_matches_with_full_confidence():
    out = _match({"lead_id": ["L1"], "email": ["Jane.Doe@ACME.com"], "company": ["Something Else"]})
    assert list(out.columns) == COLUMNS
    assert _row(out) == {"lead_id": "L1", "account_id": "A1", "method": "email_domain", "confidence": 100.0,
                         "status": "matched", "candidates": 1,
                         "reason": "email domain acme.com is account A1's domain"}


def test_account_website_stands_in_for_a_missing_domain():
    out = _match({"lead_id": ["L1"], "email": ["bob@globex.de"]})
    assert _row(out)["account_id"] == "A2"
    assert _row(out)["reason"] == "email domain globex.de is account A2's domain"


def test_subdomain_matches_on_the_registrable_domain():
    out = _match({"lead_id": ["L1", "L2", "L3"],
                  "email": ["jo@mail.acme.com", "al@eu.initech.co.uk", "cy@other.co.uk"]})
    assert out["account_id"].tolist() == ["A1", "A3", None]
    assert out["confidence"].tolist() == [90.0, 90.0, 0.0]
    assert out.loc[0, "reason"] == "email domain mail.acme.com and account A1's domain acme.com are both under acme.com"
    # co.uk is a public suffix: other.co.uk is not initech.co.uk
    assert out.loc[2, "status"] == "unmatched"
    assert out.loc[2, "reason"] == ("no account with email domain other.co.uk; "
                                    "no company name")


def test_personal_email_falls_through_to_website_then_company():
    out = _match({"lead_id": ["L1", "L2", "L3"],
                  "email": ["jane@gmail.com", "joe@gmx.de", "x@yahoo.co.uk"],
                  "website": ["www.acme.com", None, None],
                  "company": [None, "Initech", "Nobody Known"]})
    assert out["account_id"].tolist() == ["A1", "A3", None]
    assert out["method"].tolist() == ["website", "company_name", None]
    assert out.loc[0, "reason"] == ("personal email domain gmail.com: not used for matching; "
                                    "website acme.com is account A1's domain")
    assert out.loc[1, "reason"] == ("personal email domain gmx.de: not used for matching; "
                                    "company 'Initech' ~ 'Initech Ltd' (score 100)")
    assert out.loc[2, "reason"] == ("personal email domain yahoo.co.uk: not used for matching; "
                                    "no account name scoring >= 85 for company 'Nobody Known'")


def test_personal_domains_parameter_replaces_the_default_list():
    accounts = _accounts(domain=["acme.com", "gmail.com", None, None])
    out = _match({"lead_id": ["L1", "L2"], "email": ["a@gmail.com", "b@acme.com"]}, accounts,
                 personal_domains=["acme.*"])
    assert out["account_id"].tolist() == ["A2", None]
    assert out.loc[1, "reason"] == "personal email domain acme.com: not used for matching; no company name"


@pytest.mark.parametrize("email, problem", [
    ("bob.acme.com", "no @"),
    ("bob@@acme.com", "more than one @"),
    ("a@b@acme.com", "more than one @"),
    ("bob smith@acme.com", "contains spaces"),
    ("@acme.com", "nothing before the @"),
    ("bob@acme", "no valid domain after the @"),
    ("bob@", "no valid domain after the @"),
])
def test_malformed_email_is_reported_and_falls_through(email, problem):
    out = _match({"lead_id": ["L1"], "email": [email], "company": ["Globex Corp"]})
    row = _row(out)
    assert (row["account_id"], row["method"], row["status"]) == ("A2", "company_name", "matched")
    assert row["reason"] == (f"malformed email '{email}' ({problem}): not used for matching; "
                             "company 'Globex Corp' ~ 'Globex Corporation' (score 100)")


def test_unknown_domain_then_company_reports_both():
    out = _match({"lead_id": ["L1"], "email": ["ceo@umbrella-corp.net"], "website": ["not a site"],
                  "company": ["Umbrella"]})
    assert _row(out)["account_id"] == "A4"
    assert _row(out)["reason"] == ("no account with email domain umbrella-corp.net; website 'not a site' is not a "
                                   "domain: not used for matching; company 'Umbrella' ~ 'Umbrella GmbH' (score 100)")


# --------------------------------------------------------------------------- names


def test_fuzzy_company_with_typos_and_legal_suffixes():
    out = _match({"lead_id": ["L1", "L2", "L3", "L4"],
                  "company": ["ACME Corporation", "Globex Corp.", "Initeck", "Initek"]})
    assert out["account_id"].tolist() == ["A1", "A2", "A3", None]
    # 'initeck' vs 'initech': 6 letters in common of 7 + 7 -> 100 * (1 - 2/14)
    assert out["confidence"].tolist() == [100.0, 100.0, 85.7, 0.0]
    assert out.loc[2, "reason"] == "company 'Initeck' ~ 'Initech Ltd' (score 85.7)"
    # 'initek' scores 100 * (1 - 3/13) = 76.9 < 85
    assert out.loc[3, "reason"] == "no email domain or website; no account name scoring >= 85 for company 'Initek'"
    assert fuzz.token_sort_ratio("initek", "initech") == pytest.approx(76.92, abs=0.01)


def test_min_score_is_honoured():
    leads = {"lead_id": ["L1"], "company": ["Initek"]}
    assert _match(leads)["account_id"].tolist() == [None]
    out = _match(leads, min_score=75)
    assert (out.loc[0, "account_id"], out.loc[0, "confidence"]) == ("A3", 76.9)


# --------------------------------------------------------------------------- tie-breakers


def _shared(owner, employees, ids=("B1", "B2", "B3")):
    return pd.DataFrame({"account_id": list(ids), "name": ["Shared Co"] * 3, "domain": ["shared.com"] * 3,
                         "owner_id": owner, "employees": employees})


@pytest.mark.parametrize("owner, employees, chosen, status, why", [
    ([None, "R1", None], [900, 10, 5000], "B2", "matched", "chose B2: the only one with an owner"),
    (["R1", "R2", None], [10, 900, 5000], "B2", "matched", "chose B2: the largest with an owner (900 employees)"),
    ([None, None, None], [10, 900, None], "B2", "matched", "chose B2: the largest (900 employees)"),
    (["R1", "R2", "R3"], [50, 50, 50], "B1", "matched",
     "chose B1: lowest account_id among owned accounts of the same size"),
    ([None, None, None], [50, 50, 10], None, "ambiguous",
     "cannot choose between B1, B2: no owner and the same size; left for review"),
    ([None, None, None], [None, None, None], None, "ambiguous",
     "cannot choose between B1, B2, B3: no owner and the same size; left for review"),
])
def test_domain_tie_breakers(owner, employees, chosen, status, why):
    out = _match({"lead_id": ["L1"], "email": ["x@shared.com"]}, _shared(owner, employees))
    row = _row(out)
    assert (row["account_id"], row["status"], row["candidates"], row["confidence"]) == (chosen, status, 3, 100.0)
    assert row["reason"] == f"email domain shared.com is the domain of 3 accounts; {why}"


def test_tie_breaker_account_id_is_compared_as_text_and_is_order_independent():
    accounts = _shared(["R1", "R2", "R3"], [50, 50, 50], ids=("B10", "B9", "B2"))
    leads = pd.DataFrame({"lead_id": ["L1"], "email": ["x@shared.com"]})
    first = LeadAccountMatcher().fit(accounts).match(leads)
    shuffled = LeadAccountMatcher().fit(accounts.iloc[[2, 0, 1]]).match(leads)
    assert first["account_id"].tolist() == shuffled["account_id"].tolist() == ["B10"]


def test_fuzzy_names_within_the_margin_are_tied():
    accounts = pd.DataFrame({"account_id": ["C1", "C2", "C3"],
                             "name": ["Northwind Systems", "Northwind System", "Northwind Traders"],
                             "owner_id": [None, "R1", None], "employees": [100, 20, 5000]})
    leads = {"lead_id": ["L1"], "company": ["Northwind Systems Inc"]}
    # 'northwind system' scores 100 * (1 - 1/33) = 96.97: outside the default 3-point margin, inside a 5-point one
    narrow = _match(leads, accounts)
    assert _row(narrow) == {"lead_id": "L1", "account_id": "C1", "method": "company_name", "confidence": 100.0,
                            "status": "matched", "candidates": 1,
                            "reason": "company 'Northwind Systems Inc' ~ 'Northwind Systems' (score 100)"}
    wide = _match(leads, accounts, ambiguity_margin=5)
    assert _row(wide) == {"lead_id": "L1", "account_id": "C2", "method": "company_name", "confidence": 97.0,
                          "status": "matched", "candidates": 2,
                          "reason": "company 'Northwind Systems Inc' ~ 'Northwind System' (score 97); "
                                    "2 accounts within 5 points of the best; chose C2: the only one with an owner"}


def test_same_normalised_name_without_owner_or_size_is_ambiguous():
    accounts = pd.DataFrame({"account_id": ["D2", "D1"], "name": ["Hooli Inc", "HOOLI LLC"]})
    out = _match({"lead_id": ["L1"], "company": ["Hooli"]}, accounts)
    assert _row(out) == {"lead_id": "L1", "account_id": None, "method": "company_name", "confidence": 100.0,
                         "status": "ambiguous", "candidates": 2,
                         "reason": "company 'Hooli' ~ 2 accounts within 3 points (best score 100); "
                                   "cannot choose between D1, D2: no owner and the same size; left for review"}


# --------------------------------------------------------------------------- never lose a lead


def test_missing_everything_is_unmatched_with_a_reason():
    out = _match({"lead_id": ["L1", "L2", "L3"], "email": [None, "  ", "p@hotmail.com"],
                  "company": [None, "", None]})
    assert out["status"].tolist() == ["unmatched"] * 3
    assert out["account_id"].tolist() == [None] * 3
    assert out["method"].tolist() == [None] * 3
    assert out["candidates"].tolist() == [0, 0, 0]
    assert out["reason"].tolist() == [
        "no email domain, website or company name",
        "no email domain, website or company name",
        "personal email domain hotmail.com: not used for matching; no company name",
    ]


def test_leads_without_optional_columns_and_an_empty_batch():
    out = _match({"lead_id": ["L1", "L2"]})
    assert out["reason"].tolist() == ["no email domain, website or company name"] * 2
    empty = _match({"lead_id": []})
    assert list(empty.columns) == COLUMNS and len(empty) == 0


def test_order_and_every_lead_kept_with_duplicates_and_odd_index():
    leads = pd.DataFrame({"lead_id": ["L3", "L1", "L2", "L1", "L4"],
                          "email": ["a@acme.com", None, "bad email", "a@acme.com", "z@initech.co.uk"],
                          "company": ["x", "Globex", "Umbrella", None, None]},
                         index=[40, 10, 30, 20, 0])
    out = LeadAccountMatcher().fit(_accounts()).match(leads)
    assert out["lead_id"].tolist() == ["L3", "L1", "L2", "L1", "L4"]
    assert out["account_id"].tolist() == ["A1", "A2", "A4", "A1", "A3"]
    assert out["method"].tolist() == ["email_domain", "company_name", "company_name", "email_domain",
                                      "email_domain"]
    assert out.index.tolist() == [0, 1, 2, 3, 4]


def test_deterministic_across_runs_and_account_order():
    accounts, leads, _ = _synthetic(n_accounts=400, n_leads=2000, seed=3)
    first = LeadAccountMatcher().fit(accounts).match(leads)
    again = LeadAccountMatcher().fit(accounts).match(leads)
    shuffled = LeadAccountMatcher().fit(accounts.sample(frac=1, random_state=1)).match(leads)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, shuffled)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("params, message", [
    ({"min_score": 0}, "The 'min_score' parameter of LeadAccountMatcher must be a float in (0, 100]; got 0."),
    ({"min_score": 101}, "The 'min_score' parameter of LeadAccountMatcher must be a float in (0, 100]; got 101."),
    ({"ambiguity_margin": -1},
     "The 'ambiguity_margin' parameter of LeadAccountMatcher must be a float in [0, 100); got -1."),
    ({"scorer": "jaro"}, "The 'scorer' parameter of LeadAccountMatcher must be one of 'ratio', 'token_sort_ratio', "
                         "'token_set_ratio', 'QRatio', 'WRatio'; got 'jaro'."),
    ({"personal_domains": "gmail.com"},
     "The 'personal_domains' parameter of LeadAccountMatcher must be None or a list of domain strings; "
     "got 'gmail.com'."),
])
def test_parameter_errors(params, message):
    with pytest.raises(ValueError) as err:
        LeadAccountMatcher(**params).fit(_accounts())
    assert str(err.value) == message


def test_data_errors():
    with pytest.raises(DataError, match="accounts needs an account_id column"):
        LeadAccountMatcher().fit(pd.DataFrame({"name": ["x"]}))
    with pytest.raises(DataError, match="account_id must be unique; repeated: A1"):
        LeadAccountMatcher().fit(pd.DataFrame({"account_id": ["A1", "A1"]}))
    with pytest.raises(DataError, match="1 rows without an account_id"):
        LeadAccountMatcher().fit(pd.DataFrame({"account_id": ["A1", None]}))
    with pytest.raises(DataError, match="not fitted yet"):
        LeadAccountMatcher().match(pd.DataFrame({"lead_id": ["L1"]}))
    with pytest.raises(DataError, match="leads needs a lead_id column"):
        LeadAccountMatcher().fit(_accounts()).match(pd.DataFrame({"email": ["a@acme.com"]}))


# --------------------------------------------------------------------------- blocking recall and scale


def _synthetic(n_accounts: int, n_leads: int, seed: int = 0):
    """Accounts with made-up names; leads that are employees, typo'd names, or unknown companies."""
    rng = np.random.default_rng(seed)
    syllables = ["ka", "lo", "mi", "ne", "tra", "vo", "zen", "qui", "bar", "dex", "ron", "sil", "ta", "mor",
                 "fin", "gal", "hex", "ix", "lum", "pra", "cor", "ver", "nol", "sta", "ux", "bri", "dra", "tek"]
    common = ["Solutions", "Group", "Technologies", "Systems", "Consulting", "Partners", "Labs", "Energy"]
    suffixes = ["Inc.", "LLC", "Ltd", "GmbH", "Corp", "S.A.", "plc", ""]

    def word() -> str:
        return "".join(rng.choice(syllables, rng.integers(2, 5))).title()

    names = [" ".join([word()] + ([str(rng.choice(common))] if rng.random() < 0.6 else [])
                      + [str(rng.choice(suffixes))]).strip() for _ in range(n_accounts)]
    domains = [names[i].split()[0].lower() + str(rng.choice([".com", ".io", ".co.uk"])) for i in range(n_accounts)]
    accounts = pd.DataFrame({
        "account_id": [f"A{i:07d}" for i in range(n_accounts)], "name": names,
        "domain": [d if rng.random() < 0.7 else None for d in domains],
        "website": [f"https://www.{d}/" for d in domains],
        "owner_id": [f"R{rng.integers(20)}" if rng.random() < 0.5 else None for _ in range(n_accounts)],
        "employees": rng.integers(1, 5000, n_accounts)})

    def typo(text: str) -> str:
        i = int(rng.integers(1, len(text) - 1))
        return text[:i] + text[i + 1:] if rng.random() < 0.5 else text[:i] + "x" + text[i:]

    kind = rng.choice(3, n_leads, p=[0.5, 0.3, 0.2])
    source = rng.integers(n_accounts, size=n_leads)
    emails, companies = [], []
    for k, a in zip(kind, source, strict=True):
        if k == 0:
            emails.append(f"p{a}@{domains[a]}")
            companies.append(names[a])
        elif k == 1:
            emails.append(f"p{a}@gmail.com")
            companies.append(typo(names[a]).upper())
        else:
            emails.append("someone@yahoo.com")
            companies.append(word() + word() + " Partners")
    leads = pd.DataFrame({"lead_id": [f"L{i}" for i in range(n_leads)], "email": emails, "company": companies})
    return accounts, leads, kind


def test_blocking_finds_what_a_full_comparison_finds():
    accounts, leads, kind = _synthetic(n_accounts=1500, n_leads=3000, seed=7)
    matcher = LeadAccountMatcher().fit(accounts)
    out = matcher.match(leads)
    by_name = out[out["method"] == "company_name"]
    # brute force: every normalised lead name against every normalised account name
    keys = [normalise_company(c) for c in leads["company"]]
    names = matcher.name_keys_
    named = np.flatnonzero(kind > 0)
    best = process.cdist([keys[i] for i in named], names, scorer=fuzz.token_sort_ratio, processor=None,
                         score_cutoff=85, dtype=np.float32, workers=1).max(axis=1)
    lead_ids = leads["lead_id"].to_numpy()
    expected = set(lead_ids[named[best >= 85]])
    found = set(by_name["lead_id"])
    typos = set(lead_ids[kind == 1])
    assert len(expected & typos) > 800  # typo'd names do match
    # one typo per name keeps a blocking key, so no typo'd name is lost to blocking ...
    assert found & typos == expected & typos
    # ... and nothing is found that a full comparison would not find; an unrelated name that happens to score
    # >= 85 through a shared common word may be missed (here at most 1%)
    assert found <= expected
    assert len(expected - found) <= 0.01 * len(expected)
    scores = dict(zip(leads["lead_id"].to_numpy()[named], np.round(best, 1), strict=True))
    best_of_found = by_name[by_name["candidates"] == 1]
    assert all(scores[lead] == conf for lead, conf in zip(best_of_found["lead_id"], best_of_found["confidence"],
                                                          strict=True))


def test_synthetic_batch_matches_employees_by_domain():
    accounts, leads, kind = _synthetic(n_accounts=2000, n_leads=10_000, seed=1)
    out = LeadAccountMatcher().fit(accounts).match(leads)
    assert len(out) == len(leads) and out["lead_id"].tolist() == leads["lead_id"].tolist()
    employees = out[kind == 0]
    assert set(employees["method"]) == {"email_domain"}
    assert set(out.loc[kind == 2, "method"].dropna()) <= {"company_name"}
    assert out["status"].isin(["matched", "ambiguous", "unmatched"]).all()
    assert out["reason"].map(bool).all()


# --------------------------------------------------------------------------- the column rules equal the scalar ones


def test_whitespace_is_what_python_strips():
    assert matching._WHITESPACE == "".join(ch for ch in map(chr, range(sys.maxunicode + 1)) if ch.isspace())
    assert all(re.fullmatch(r"\s", ch) for ch in matching._WHITESPACE)


_TRICKY = [
    "", " ", "acme.com", "ACME.COM", " acme.com. ", "a.b\n", "a.b\n/x", "a\nb.com", "HTTPS://WWW.Acme.com:443/x?y#z",
    "ftp://files.acme.io/a", "://acme.com", "x1+.-://acme.com", "1http://acme.com", "www.", "wwwacme.com",
    "www.www.acme.com", "http://www", "mailto:bob@acme.com", "bob@acme.com", "Bob@Mail.ACME.co.uk", "bob@@acme.com",
    "a@b@c.d", "@acme.com", "bob@", "bob@acme", "bob smith@acme.com", "bob@acme.com\n", "bob@acme.com\u3000",
    "\u3000acme.com\x1c", "acme.com\x85", "\xa0www.acme.com", "İstanbul.com.tr", "ﬁnance.co", "ÉCOLE.fr",
    "straße.de", "bob@Straße.de", "ǅ.com", "\U0001F600.com", "a..b", ".co.uk", "co.uk", "a.co.uk", "x.y.com.au",
    "The Société Générale S.A.", "Müller & Söhne GmbH & Co. KG", "The The Co", "the", "The", "Inc Inc", "and co",
    "Co-operative Bank plc", "A’s Company, Ltd.", "McDonald's Corp", "S.A.S.", "x sas", "x incx", "a_b c",
    "!!!", "...", "&", "AT&T", "Ⅻ Holdings", "٣ Co", "naïve café inc", "Σίσυφος ΑΕ", "東京 株式会社", "\x00acme\x7f",
    "tab\there", "line\nbreak llc", "x\x1cy", "Ltd.", "sp. z o.o.", "Foo Sp Zoo",
]


def _tricky_values(seed: int = 11, n: int = 3000) -> list[str]:
    rng = random.Random(seed)
    pieces = list("aZ09.-_@/:?#&'’!, \t\n\x0b\r\x1c\x00") + [
        "\xa0", "\u3000", "\u2028", "\x85", "é", "É", "ß", "İ", "ﬁ", "Ⅻ", "\u0301", "K", "Σ", "\U0001F600", "²",
        "www.", "http://", "HTTPS://", "://", "co.uk", ".com", "gmx.", "inc", " Inc.", " LLC", " & Co. KG", "The ",
        " and", "S.A.", " sas"]
    return _TRICKY + ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(n)]


def _column(values) -> pa.Array:
    return pa.array(values, type=pa.large_string())


def test_column_rules_give_what_the_scalar_functions_give():
    values = _tricky_values()
    assert list(matching._objects(matching._domains_arrow(_column(values)))) == [normalise_domain(v) for v in values]
    assert list(matching._objects(matching._companies_arrow(_column(values)))) == [normalise_company(v) for v in values]
    lowered, domains = matching._emails(_column(values))
    assert list(matching._objects(lowered)) == [v.lower() for v in values]
    expected = [m.group(1) if (m := re.search(matching._EMAIL_RE, v.lower())) else None for v in values]
    assert list(matching._objects(domains)) == expected
    hosts = [h for h in map(normalise_domain, values) if h] + ["a.b.co.uk", "co.uk", ".co.uk", "a..uk", "localhost"]
    assert list(matching._objects(matching._registrables_arrow(_column(hosts)))) == list(map(registrable_domain, hosts))


def _odd_frames(seed: int = 5):
    """Accounts and leads with non-ASCII names, blank and padded text, and a few values that are not text."""
    accounts, leads, _ = _synthetic(n_accounts=300, n_leads=1200, seed=seed)
    rng = np.random.default_rng(seed)
    accounts = accounts.astype({c: object for c in ("account_id", "name", "domain", "website")})
    leads = leads.astype(object)
    leads["website"] = pd.Series([None if rng.random() < 0.7 else f" HTTPS://WWW.{d.upper()}/x " for d in
                                  accounts["website"].str.slice(12, -1).sample(len(leads), replace=True,
                                                                                random_state=seed)], dtype=object)
    for i, text in enumerate(_TRICKY):
        accounts.loc[i, "name"] = text
        accounts.loc[len(_TRICKY) + i, "domain"] = text
        leads.loc[i, "company"] = text + " Inc"
        leads.loc[len(_TRICKY) + i, "email"] = "x@" + text
        leads.loc[2 * len(_TRICKY) + i, "website"] = text
    accounts.loc[0, "domain"] = 7  # not text: str(7), as before
    leads.loc[1, "company"] = 12345
    leads.loc[2, "email"] = b"x@acme.com"
    leads.loc[3, "website"] = 3.5
    return accounts, leads


def _as_dtype(frame: pd.DataFrame, dtype) -> pd.DataFrame:
    text = [c for c in frame.columns if c != "employees"]
    if dtype == "object":
        return frame
    clean = frame.copy()
    for c in text:
        clean[c] = [v if isinstance(v, str) else None for v in frame[c]]
    return clean.astype({c: dtype for c in text})


@pytest.mark.parametrize("dtype", ["object", "str", "string[python]", pd.ArrowDtype(pa.string())])
def test_columns_of_any_text_dtype_match_like_the_scalar_path(dtype, monkeypatch):
    accounts, leads = _odd_frames()
    accounts, leads = _as_dtype(accounts, dtype), _as_dtype(leads, dtype)
    got = LeadAccountMatcher().fit(accounts).match(leads)
    monkeypatch.setattr(matching, "_ARROW_FROM", sys.maxsize)
    monkeypatch.setattr(matching, "_LOOKUP_IN_ARROW", sys.maxsize)
    expected = LeadAccountMatcher().fit(accounts).match(leads)
    pd.testing.assert_frame_equal(got, expected)
    assert got["reason"].map(type).eq(str).all()
    assert set(got["method"].dropna()) == {"email_domain", "website", "company_name"}


def test_text_arrow_cannot_hold_takes_the_scalar_path():
    accounts = _accounts().astype({"name": object, "website": object})
    accounts.loc[1, ["name", "website"]] = ["Glob\udc80ex Corp", "https://www.glob\udc80ex.de/"]
    leads = pd.DataFrame({"lead_id": ["L1", "L2", "L3"], "email": ["a@acme.com", None, None],
                          "website": [None, "glob\udc80ex.de", None], "company": [None, None, "Glob\udc80ex"]},
                         dtype=object)
    out = LeadAccountMatcher().fit(accounts).match(leads)
    assert out["account_id"].tolist() == ["A1", "A2", "A2"]
    assert out.loc[1, "reason"] == "website glob\udc80ex.de is account A2's domain"


def test_chunked_arrow_columns():
    accounts, leads, _ = _synthetic(n_accounts=200, n_leads=600, seed=2)
    table = pa.Table.from_pandas(leads, preserve_index=False)
    chunked = pa.concat_tables([table.slice(0, 250), table.slice(250, 100), table.slice(350)]).to_pandas()
    assert chunked["email"].array._pa_array.num_chunks == 3
    pd.testing.assert_frame_equal(LeadAccountMatcher().fit(accounts).match(chunked),
                                  LeadAccountMatcher().fit(accounts).match(leads.astype(object)))


def test_indexes_as_dictionaries():
    matcher = LeadAccountMatcher().fit(_shared(["R1", "R2", None], [10, 900, 5000], ids=("B1", "B2", "B3")))
    assert matcher.domain_index_ == {"shared.com": [1, 0, 2]}
    assert matcher.registrable_index_ == {"shared.com": [1, 0, 2]}
    assert matcher.name_keys_ == ["shared"] and matcher.name_accounts_ == [[1, 0, 2]]
    assert not hasattr(LeadAccountMatcher(), "domain_index_")


def test_a_name_just_below_min_score_is_unmatched_not_an_error():
    # "northwind tradng" scores 84.8 against "northwind traders": within the 3-point margin
    # below min_score 85, so it is a candidate that every filter then drops
    accounts = pd.DataFrame({"account_id": ["A1"], "name": ["Northwind Traders"], "domain": ["northwind.com"]})
    leads = pd.DataFrame({"lead_id": ["L1"], "email": [None], "company": ["Northwind Tradng"]})
    out = LeadAccountMatcher().fit(accounts).match(leads).iloc[0]
    assert (out["status"], out["account_id"]) == ("unmatched", None)
    assert "no account name scoring >= 85" in out["reason"]


# --------------------------------------------------------------------------- one lead at a time (the API)


def _workspace_frames(tmp_path, seed: int = 3):
    """A generated workspace's accounts and leads (with its messy values), plus accounts that tie and leads
    built to reach every path: typo'd and reordered names, websites, subdomains, ambiguous and tie-broken
    domains and names, malformed and personal emails, text that is not text."""
    from tierwise.demo.generate import generate_workspace

    generate_workspace(tmp_path, accounts=3000, leads=3000, seed=seed, fmt="csv", mess=True,
                       events_per_account=1, events_per_lead=0.5)
    accounts = pd.read_csv(tmp_path / "data" / "accounts.csv", dtype=str).dropna(subset=["account_id"])
    accounts = accounts.drop_duplicates("account_id").reset_index(drop=True)
    accounts["employees"] = pd.to_numeric(accounts["employees"], errors="coerce")
    leads = pd.read_csv(tmp_path / "data" / "leads.csv", dtype=str)
    rng = random.Random(seed)
    picked = accounts.sample(300, random_state=seed).astype(object)
    picked = picked.where(picked.notna(), None).to_dict("records")
    # copies sharing a domain and a name: without owner and of the same size (ambiguous), or told apart
    twins = []
    for k, a in enumerate(picked[:60]):
        kind = k % 3
        twins.append({**a, "account_id": f"ZZ{k:04d}", "owner_id": None if kind == 0 else f"R{k}",
                      "employees": a["employees"] if kind < 2 else (a["employees"] or 0) + 7})
        if kind == 0:
            twins.append({**a, "account_id": f"ZY{k:04d}", "owner_id": None})
            picked[k]["owner_id"] = None
    first = {a["account_id"]: a for a in picked[:60:3]}
    accounts.loc[accounts["account_id"].isin(first), "owner_id"] = None
    accounts = pd.concat([accounts, pd.DataFrame(twins)], ignore_index=True)

    def typo(text: str) -> str:
        i = rng.randrange(1, max(2, len(text) - 1))
        return text[:i] + rng.choice(["", "x", text[i:i + 1]]) + text[i + 1:]

    extra = []
    for a in picked:
        name, domain, website = a["name"] or "", a["domain"] or "", a["website"] or ""
        extra += [
            {"company": typo(name)}, {"company": " ".join(reversed(name.split())).upper() + " inc."},
            {"email": f"jo@mail.{domain}", "company": name}, {"website": f" HTTPS://WWW.{domain.upper()}/x?y=1 "},
            {"website": website, "email": rng.choice(["jo@gmail.com", "al@yahoo.co.uk", "x@gmx.de", "bad@"])},
            {"email": rng.choice(["no-at", "a@b@c.com", "sp ace@acme.com", "@acme.com", "x@localhost", "  "]),
             "company": rng.choice([name, None, "   ", "!!!", typo(typo(name))])},
        ]
    odd = [{"company": 12345}, {"email": b"x@acme.com"}, {"website": 3.5}, {"company": float("nan")},
           {"email": "Zoë@Société.fr", "company": "Société Générale S.A."}, {"company": "The Müller & Söhne GmbH"}]
    extra = [{"lead_id": f"X{i:05d}", **lead} for i, lead in enumerate(extra + odd)]
    leads = pd.concat([leads.astype(object), pd.DataFrame(extra, dtype=object)], ignore_index=True)
    return accounts, leads.astype(object).where(leads.notna(), None)


def test_match_records_gives_what_match_gives_on_a_frame(tmp_path):
    accounts, leads = _workspace_frames(tmp_path)
    matcher = LeadAccountMatcher().fit(accounts)
    expected = matcher.match(leads).to_dict("records")
    records = leads.to_dict("records")
    got = [row for lead in records for row in matcher.match_records([lead])]  # one per call, as the API does
    assert got == expected
    assert matcher.match_records(records[:50]) == expected[:50]
    # every path was taken
    statuses = {(r["status"], r["method"]) for r in got}
    assert {("matched", "email_domain"), ("matched", "website"), ("matched", "company_name"),
            ("ambiguous", "email_domain"), ("ambiguous", "company_name"), ("unmatched", None)} <= statuses
    reasons = " | ".join(r["reason"] for r in got)
    for text in ("malformed email", "personal email domain", "is not a domain", "are both under", "chose ",
                 "cannot choose", "within 3 points", "no account with website", "no company name",
                 "has no letters or digits", "no account name scoring"):
        assert text in reasons, text
    assert all(type(r["confidence"]) is float and type(r["candidates"]) is int for r in got)


def test_match_records_checks_its_input():
    with pytest.raises(DataError, match="not fitted"):
        LeadAccountMatcher().match_records([{"lead_id": "L1"}])
    matcher = LeadAccountMatcher().fit(_accounts())
    with pytest.raises(DataError, match="lead #2 to match has no lead_id"):
        matcher.match_records([{"lead_id": "L1"}, {"email": "x@acme.com"}])
    assert matcher.match_records([]) == []
    assert matcher.match_records([{"lead_id": "L1"}])[0]["reason"] == "no email domain, website or company name"
