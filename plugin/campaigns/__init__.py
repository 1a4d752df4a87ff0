"""Campaigns: an offer to a saved segment, previewed with its audience and cost, then sent.

segments (rules compiled to one query) -> audience (the few columns a plan reads) -> plan (who
gets it when, who not and why) -> forecast (the preview) and drafts (the checked row) ->
lifecycle (start, pause, resume, cancel) with filling (template values) and coupons (one code
per buyer); trial is the test send, results what it did, watch and autopause the job that pauses
a campaign that hurts the shop's standing.
"""
