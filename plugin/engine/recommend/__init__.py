"""Recommendations: "goes with your last purchase", from the shop's own orders.

history (orders as arrays) -> fitting (the item-item model, cached per shop) -> picking (the
best products per buyer, in bulk) with reasons (why, in the owner's words) -> flow (who is due
one, and the outbox rows).
"""
