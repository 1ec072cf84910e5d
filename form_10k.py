"""The 10-K's vocabulary: its Items in order, their titles as Regulation S-K names them, the Part
each belongs to, and the short names a sentence uses for them.

Every stage speaks of Items (the extractor finds them, the diff compares them, the highlights and
the page name them); this module is the one place their names live, so no stage has to import the
extractor to say "Item 7".
"""

from __future__ import annotations

ITEM_ORDER = ("1", "1A", "1B", "1C", "2", "3", "4", "5", "6", "7", "7A", "8", "9", "9A", "9B", "9C", "10", "11", "12",
              "13", "14", "15", "16")
ITEM_TITLES = {
    "1": "Business",
    "1A": "Risk Factors",
    "1B": "Unresolved Staff Comments",
    "1C": "Cybersecurity",
    "2": "Properties",
    "3": "Legal Proceedings",
    "4": "Mine Safety Disclosures",
    "5": "Market for Registrant's Common Equity, Related Stockholder Matters and Issuer Purchases of Equity Securities",
    "6": "[Reserved]",
    "7": "Management's Discussion and Analysis of Financial Condition and Results of Operations",
    "7A": "Quantitative and Qualitative Disclosures About Market Risk",
    "8": "Financial Statements and Supplementary Data",
    "9": "Changes in and Disagreements with Accountants on Accounting and Financial Disclosure",
    "9A": "Controls and Procedures",
    "9B": "Other Information",
    "9C": "Disclosure Regarding Foreign Jurisdictions that Prevent Inspections",
    "10": "Directors, Executive Officers and Corporate Governance",
    "11": "Executive Compensation",
    "12": "Security Ownership of Certain Beneficial Owners and Management and Related Stockholder Matters",
    "13": "Certain Relationships and Related Transactions, and Director Independence",
    "14": "Principal Accountant Fees and Services",
    "15": "Exhibits and Financial Statement Schedules",
    "16": "Form 10-K Summary",
}
ITEM_PARTS = {item: "I" for item in ("1", "1A", "1B", "1C", "2", "3", "4")} | \
    {item: "II" for item in ("5", "6", "7", "7A", "8", "9", "9A", "9B", "9C")} | \
    {item: "III" for item in ("10", "11", "12", "13", "14")} | {"15": "IV", "16": "IV"}
# How a sentence names an Item ("Dropped from MD&A: ..."); the others are "Item 9B".
ITEM_SHORT_NAMES = {
    "1": "Business", "1A": "Risk Factors", "1C": "Cybersecurity", "2": "Properties", "3": "Legal Proceedings",
    "5": "Market for the Stock", "7": "MD&A", "7A": "Market Risk", "8": "the Financial Statements",
    "9A": "Controls and Procedures", "10": "Directors and Officers", "15": "the Exhibits",
}


def short_name(item: str) -> str:
    return ITEM_SHORT_NAMES.get(item, f"Item {item}")
