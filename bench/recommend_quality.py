"""How well the recommender predicts a real shop's next purchase (UCI Online Retail).

Protocol: load the whole history through the same code path a shop's orders take
(plugin.sync.rows.upsert_*), fit on everything before 2011-10-01, and score every customer
with orders on both sides of the cut. The target is their first order after the cut; the "last
purchase" is
their last order before it. Track "new items": items the customer bought before the cut are
removed from the list and from the target (cross-sell). Prints hit rate@10, recall@10 and
NDCG@10 with bootstrap 95% intervals, beside popularity (last 30 days) and plain co-occurrence.

Data: UCI Machine Learning Repository, "Online Retail" (Daqing Chen), CC BY 4.0,
doi:10.24432/C5BW33.

    .venv/bin/python bench/recommend_quality.py [--csv PATH] [--db sqlite:///tmp/uci.db]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.base import CustomerRecord, LineRecord, OrderRecord, ProductRecord, VariantRecord
from plugin import crypto, migrate
from plugin.db import Database
from plugin.engine.recommend import fitting, history, picking
from plugin.models import Order, Store
from plugin.sync.catalog import upsert_customers, upsert_products
from plugin.sync.orders import upsert_orders

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail.csv.gz"
CUT = dt.datetime(2011, 10, 1, tzinfo=dt.UTC)
K = 10
PAGE = 500


def read_lines(path: Path) -> list[dict[str, str]]:
    """The usual cleaning: customers only, no cancellations, positive amounts, real products."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        row
        for row in rows
        if row["CustomerID"]
        and not row["InvoiceNo"].startswith("C")
        and float(row["Quantity"]) > 0
        and float(row["UnitPrice"]) > 0
        and row["StockCode"][:5].isdigit()
    ]


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def load_shop(database: Database, rows: list[dict[str, str]]) -> int:
    """Products, customers and orders in, through the sync upserts; returns the store id."""
    stamp = dt.datetime(2012, 1, 1, tzinfo=dt.UTC)
    with database.session() as session:
        store = Store(platform="woocommerce", domain="uci-online-retail.example", name="UCI")
        session.add(store)
        session.flush()
        store_id = store.id
        titles: dict[str, tuple[str, float]] = {}
        countries: dict[str, str] = {}
        for row in rows:
            titles.setdefault(row["StockCode"], (row["Description"], float(row["UnitPrice"])))
            countries.setdefault(row["CustomerID"], row["Country"])
        products = [
            ProductRecord(
                platform_id=code,
                title=title or code,
                updated_at=stamp,
                variants=(VariantRecord(code, "Default", round(price * 100), "GBP"),),
            )
            for code, (title, price) in sorted(titles.items())
        ]
        for start in range(0, len(products), PAGE):
            upsert_products(session, store, products[start : start + PAGE])
        customers = [CustomerRecord(platform_id=c, updated_at=stamp) for c in sorted(countries)]
        for start in range(0, len(customers), PAGE):
            upsert_customers(session, store, customers[start : start + PAGE])
    invoices: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        invoices[row["InvoiceNo"]].append(row)
    orders = [order_record(number, lines) for number, lines in sorted(invoices.items())]
    for start in range(0, len(orders), PAGE):
        with database.session() as session:
            store = session.get(Store, store_id)
            upsert_orders(session, store, orders[start : start + PAGE])
    return store_id


def order_record(number: str, lines: list[dict[str, str]]) -> OrderRecord:
    placed = parse_time(lines[0]["InvoiceDate"])
    records = tuple(
        LineRecord(
            title=line["Description"],
            quantity=int(float(line["Quantity"])),
            price_minor=round(float(line["UnitPrice"]) * 100),
            product_id=line["StockCode"],
            variant_id=line["StockCode"],
        )
        for line in lines
    )
    return OrderRecord(
        platform_id=number,
        placed_at=placed,
        updated_at=placed,
        total_minor=sum(r.price_minor * r.quantity for r in records),
        currency="GBP",
        customer_id=lines[0]["CustomerID"],
        lines=records,
    )


def metrics(ranked: list[int], target: set[int]) -> tuple[float, float, float]:
    hits = [1.0 if item in target else 0.0 for item in ranked[:K]]
    dcg = sum(h / np.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1 / np.log2(i + 2) for i in range(min(K, len(target))))
    return float(any(hits)), sum(hits) / len(target), dcg / ideal


def bootstrap(values: np.ndarray, rounds: int = 1000) -> tuple[float, float, float]:
    generator = np.random.default_rng(42)
    means = [values[generator.integers(0, values.size, values.size)].mean() for _ in range(rounds)]
    return float(values.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def targets(database: Database, store_id: int) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """Per customer with orders on both sides: products bought before, first order after."""
    with database.session() as session:
        store = session.get(Store, store_id)
        everything = history.load_history(session, store, dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    before: dict[int, set[int]] = defaultdict(set)
    first_after: dict[int, tuple[int, int]] = {}
    cut = CUT.timestamp()
    for row in range(everything.order_ids.size):
        customer, placed = int(everything.order_customer[row]), int(everything.order_time[row])
        items = everything.order_items.indices[
            everything.order_items.indptr[row] : everything.order_items.indptr[row + 1]
        ]
        products = {int(p) for p in everything.items[items]}
        if placed < cut:
            before[customer] |= products
        elif customer not in first_after or (placed, row) < first_after[customer]:
            first_after[customer] = (placed, row)
    result: dict[int, set[int]] = {}
    for customer, (_, row) in first_after.items():
        if customer not in before:
            continue
        items = everything.order_items.indices[
            everything.order_items.indptr[row] : everything.order_items.indptr[row + 1]
        ]
        wanted = {int(p) for p in everything.items[items]} - before[customer]
        if wanted:
            result[customer] = wanted
    return result, before


def baselines(model: fitting.ItemModel, customers: list[int]) -> dict[str, dict[int, list[int]]]:
    """Popularity of the last 30 days, and raw co-occurrence with the last order's items."""
    buyers = picking.buyer_histories(model, customers)
    popularity = picking.recent_popularity(model, CUT)
    together = (model.history.order_items.T @ model.history.order_items).tocsr()
    together = sp.csr_matrix(together, dtype=np.float64)
    together.setdiag(0)
    co_scores = (buyers.last @ together).toarray() + 1e-6 * popularity  # ties: popularity
    ranked: dict[str, dict[int, list[int]]] = {"popularity (30 days)": {}, "co-occurrence": {}}
    order = np.argsort(-popularity, kind="stable")
    for row, customer in enumerate(buyers.customer_ids):
        bought = set(
            buyers.bought.indices[buyers.bought.indptr[row] : buyers.bought.indptr[row + 1]]
        )
        ranked["popularity (30 days)"][int(customer)] = [
            int(model.history.items[i]) for i in order[: K + len(bought)] if i not in bought
        ][:K]
        scores = co_scores[row].copy()
        scores[list(bought)] = -1
        top = np.argsort(-scores, kind="stable")[:K]
        ranked["co-occurrence"][int(customer)] = [int(model.history.items[i]) for i in top]
    return ranked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--db", default="sqlite:////tmp/shopnudge_uci.db")
    args = parser.parse_args()
    crypto.configure(("hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E=",))
    migrate.upgrade(args.db)
    database = Database(args.db)
    with database.session() as session:
        store_id = session.scalar(select(func.min(Store.id)))
        loaded = session.scalar(select(func.count(Order.id)))
    if not store_id or not loaded:
        started = time.perf_counter()
        rows = read_lines(args.csv)
        store_id = load_shop(database, rows)
        print(
            f"loaded {len(rows):,} lines through the sync path "
            f"in {time.perf_counter() - started:.1f} s"
        )
    wanted, _ = targets(database, store_id)
    customers = sorted(wanted)
    with database.session() as session:
        store = session.get(Store, store_id)
        started = time.perf_counter()
        model = fitting.ModelCache().model_for(session, store, CUT)
        fitted = time.perf_counter() - started
    items = model.history.items.size
    started = time.perf_counter()
    ours = picking.recommend_for_customers(
        model, customers, CUT, np.ones(items, bool), np.zeros(items, bool), count=K
    )
    scored = time.perf_counter() - started
    ranked = {"ShopNudge item-to-item": {c: [p.product_id for p in ours[c]] for c in customers}}
    ranked.update(baselines(model, customers))
    print(f"train: {model.history.order_ids.size:,} orders before {CUT.date()}, {items:,} products")
    print(f"customers scored (new-items track, non-empty target): {len(customers):,}")
    print(f"fit {fitted:.2f} s, recommend for all {scored:.2f} s")
    print(f"{'method':<26} {'hit@10':>22} {'recall@10':>22} {'ndcg@10':>22}")
    for name, lists in ranked.items():
        values = np.array([metrics(lists[c], wanted[c]) for c in customers])
        cells = []
        for column in range(3):
            mean, low, high = bootstrap(values[:, column])
            cells.append(f"{mean:.4f} [{low:.4f}, {high:.4f}]")
        print(f"{name:<26} " + " ".join(f"{cell:>22}" for cell in cells))


if __name__ == "__main__":
    main()
