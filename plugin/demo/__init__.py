"""A deterministic demo shop, so a newcomer sees every part work without a real store.

`shop.seed_demo` creates it once: the catalogue (`catalog`), the buyers (`buyers`), their
orders and open carts (`orders`), their consent (`consent`), and three months of messages
for the dashboard (`history`). Baskets have structure: each product has complements (beans go
with filters and a grinder), and each buyer has favourite categories, so the recommender has
real co-purchase signal to find.
"""
