"""Keeping a shop's data in step with its platform.

run: pull a shop through its connector, page by page, resumably. The record modules persist
what connectors return with idempotent upserts that ignore stale data: catalog (products and
customers), orders, carts (and carts recovered by orders), on helpers in rows; purchases is
the one rule of which orders count as purchases.
"""
