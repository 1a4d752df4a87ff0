"""Consent: wording, opt-in, opt-out, the ledger and GDPR tools."""
