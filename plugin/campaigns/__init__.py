"""Campaigns: an offer to a saved segment, previewed with its audience and cost, then sent."""
