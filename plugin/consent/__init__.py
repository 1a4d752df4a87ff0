"""Consent: the ledger of every buyer's consent events and what derives from it.

ledger (append an event, derive the subscription's state), optin (a buyer's request with its
proof), doubleoptin (pending until confirmed on WhatsApp), replies (what a buyer's reply means:
stop, yes, or a person should look), wording (versioned opt-in text), proof (the ledger with the
text each buyer saw), gdpr and traces (a buyer's data, exported or erased), retention (the purge
job).
"""
