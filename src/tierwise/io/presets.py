"""Column-name presets for CRM exports: canonical column -> export column.

A spec picks a preset per table (``preset: salesforce``) and can override any
column with ``columns:``. Lookups fall back to the canonical name, and match
export headers case-insensitively.

Examples
--------
>>> PRESETS["salesforce"]["accounts"]["employees"]
'NumberOfEmployees'
>>> PRESETS["hubspot"]["opportunities"]["amount"]
'Amount'
"""

from __future__ import annotations

SALESFORCE: dict[str, dict[str, str]] = {
    # Account
    "accounts": {
        "account_id": "Id", "name": "Name", "website": "Website", "industry": "Industry",
        "employees": "NumberOfEmployees", "annual_revenue": "AnnualRevenue", "country": "BillingCountry",
        "state": "BillingState", "city": "BillingCity", "owner_id": "OwnerId", "parent_account_id": "ParentId",
        "created_at": "CreatedDate", "updated_at": "LastModifiedDate",
    },
    # Contact
    "contacts": {
        "contact_id": "Id", "account_id": "AccountId", "email": "Email", "first_name": "FirstName",
        "last_name": "LastName", "title": "Title", "created_at": "CreatedDate", "updated_at": "LastModifiedDate",
    },
    # Lead
    "leads": {
        "lead_id": "Id", "email": "Email", "company": "Company", "website": "Website", "title": "Title",
        "country": "Country", "employees": "NumberOfEmployees", "industry": "Industry", "lead_source": "LeadSource",
        "status": "Status", "created_at": "CreatedDate", "updated_at": "LastModifiedDate",
    },
    # Opportunity
    "opportunities": {
        "opportunity_id": "Id", "account_id": "AccountId", "name": "Name", "stage": "StageName", "amount": "Amount",
        "created_at": "CreatedDate", "closed_at": "CloseDate", "is_closed": "IsClosed", "is_won": "IsWon",
        "owner_id": "OwnerId", "stage_changed_at": "LastStageChangeDate",
    },
    # Task (activity history)
    "activities": {
        "activity_id": "Id", "account_id": "AccountId", "contact_id": "WhoId", "event_type": "Type",
        "occurred_at": "ActivityDate", "detail": "Subject",
    },
    # User
    "reps": {"rep_id": "Id", "name": "Name", "email": "Email", "role": "UserRoleId", "active": "IsActive",
             "manager_id": "ManagerId"},
}

HUBSPOT: dict[str, dict[str, str]] = {
    "accounts": {
        "account_id": "Record ID", "name": "Company name", "domain": "Company Domain Name", "website": "Website URL",
        "industry": "Industry", "employees": "Number of Employees", "annual_revenue": "Annual Revenue",
        "country": "Country/Region", "state": "State/Region", "city": "City", "owner_id": "Company owner",
        "parent_account_id": "Parent Company ID", "created_at": "Create Date", "updated_at": "Last Modified Date",
    },
    "contacts": {
        "contact_id": "Record ID", "account_id": "Associated Company ID", "email": "Email",
        "first_name": "First Name", "last_name": "Last Name", "title": "Job Title",
        "created_at": "Create Date", "updated_at": "Last Modified Date",
    },
    "opportunities": {
        "opportunity_id": "Record ID", "account_id": "Associated Company ID", "name": "Deal Name",
        "stage": "Deal Stage", "amount": "Amount", "created_at": "Create Date", "closed_at": "Close Date",
        "is_closed": "Is Closed", "is_won": "Is Closed Won", "owner_id": "Deal owner",
    },
}

PRESETS: dict[str, dict[str, dict[str, str]]] = {"canonical": {}, "salesforce": SALESFORCE, "hubspot": HUBSPOT}
