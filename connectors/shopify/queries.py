"""GraphQL documents: one selection per resource, used by paginated and bulk queries alike.

Nested connections cost `first` times their fields, so pages of resources with lines are
smaller than 250 to stay under Shopify's single-query maximum of 1,000 points.
https://shopify.dev/docs/api/usage/limits#cost-calculation
"""

from __future__ import annotations

#: The largest page Shopify serves.
PAGE_SIZE = 250
#: Shopify refuses a single query whose requested cost exceeds this.
MAX_QUERY_COST = 1000
#: Lines, variants and collections read per parent on paginated queries (bulk reads all).
NESTED = 25

MONEY = "shopMoney { amount currencyCode }"

SELECTIONS = {
    "products": (
        "id title handle onlineStoreUrl productType tags status updatedAt "
        "featuredMedia { preview { image { url } } }",
        {
            "variants": "id title sku price inventoryQuantity availableForSale",
            "collections": "id title",
        },
    ),
    "customers": (
        "id firstName lastName locale updatedAt defaultEmailAddress { emailAddress } "
        "defaultPhoneNumber { phoneNumber whatsAppMarketingConsent { state } } "
        "defaultAddress { countryCodeV2 }",
        {},
    ),
    "orders": (
        "id name createdAt processedAt updatedAt cancelledAt closed checkoutToken email phone "
        "displayFinancialStatus displayFulfillmentStatus customer { id } "
        f"totalPriceSet {{ {MONEY} }}",
        {
            "lineItems": f"id title quantity originalUnitPriceSet {{ {MONEY} }} "
            "product { id } variant { id }"
        },
    ),
    "carts": (
        "id abandonedCheckoutUrl createdAt updatedAt completedAt customer { id locale } "
        f"totalPriceSet {{ {MONEY} }}",
        {
            "lineItems": f"id title quantity originalUnitPriceSet {{ {MONEY} }} "
            "product { id } variant { id }"
        },
    ),
}

#: The query-root connection of each resource.
ROOTS = {
    "products": "products",
    "customers": "customers",
    "orders": "orders",
    "carts": "abandonedCheckouts",
}

#: How each connection is ordered for incremental pages. Abandoned checkouts cannot be sorted
#: by update time (`AbandonedCheckoutSortKeys` has no UPDATED_AT), so they are read in id order;
#: the `updated_at` filter alone decides which are read, and a run reads every page of it.
#: https://shopify.dev/docs/api/admin-graphql/2026-07/enums/AbandonedCheckoutSortKeys
SORT_KEYS = {
    "products": "UPDATED_AT",
    "customers": "UPDATED_AT",
    "orders": "UPDATED_AT",
    "carts": "ID",
}


def node_cost(resource: str) -> int:
    """Requested cost of one node: itself and its objects, plus `first` of each nested list."""
    _, children = SELECTIONS[resource]
    return 3 + sum(2 + NESTED * 3 for _ in children)


def page_size(resource: str) -> int:
    """Largest page whose requested cost stays under the single-query maximum."""
    return max(1, min(PAGE_SIZE, (MAX_QUERY_COST - 2) // node_cost(resource)))


def page_cost(resource: str) -> int:
    return 2 + page_size(resource) * node_cost(resource)


def page_query(resource: str) -> str:
    fields, children = SELECTIONS[resource]
    nested = " ".join(
        f"{name}(first: {NESTED}) {{ nodes {{ {selection} }} }}"
        for name, selection in children.items()
    )
    name = "ShopNudge" + resource.title()
    return (
        f"query {name}($first: Int!, $after: String, $query: String) {{ "
        f"{ROOTS[resource]}(first: $first, after: $after, query: $query, "
        f"sortKey: {SORT_KEYS[resource]}) {{ "
        f"pageInfo {{ hasNextPage endCursor }} nodes {{ {fields} {nested} }} }} }}"
    )


def bulk_query(resource: str) -> str:
    """The query a bulk operation runs: every node and every child, as JSONL lines."""
    fields, children = SELECTIONS[resource]
    nested = " ".join(
        f"{name} {{ edges {{ node {{ {selection} }} }} }}" for name, selection in children.items()
    )
    return f"{{ {ROOTS[resource]} {{ edges {{ node {{ {fields} {nested} }} }} }} }}"


SHOP = (
    "query ShopNudgeShop { shop { currencyCode ianaTimezone shopAddress { countryCodeV2 } "
    "myshopifyDomain primaryDomain { url } } }"
)

BULK_RUN = (
    "mutation ShopNudgeBulkRun($query: String!) { bulkOperationRunQuery(query: $query) { "
    "bulkOperation { id status } userErrors { field message } } }"
)

#: The newest bulk query still at work, if any (`currentBulkOperation` is deprecated: "Use
#: `bulkOperations` with status filter instead").
#: https://shopify.dev/docs/api/admin-graphql/2026-07/queries/bulkOperations
BULK_ACTIVE = (
    "query ShopNudgeBulkActive { bulkOperations(first: 1, sortKey: CREATED_AT, reverse: true, "
    'query: "operation_type:query AND (status:created OR status:running)") { '
    "nodes { id status errorCode objectCount url partialDataUrl query } } }"
)

BULK_NODE = (
    "query ShopNudgeBulkNode($id: ID!) { node(id: $id) { ... on BulkOperation { "
    "id status errorCode objectCount url partialDataUrl query } } }"
)

WHATSAPP_CONSENT_UPDATE = (
    "mutation ShopNudgeWhatsAppConsent($input: CustomerWhatsAppMarketingConsentUpdateInput!) { "
    "customerWhatsAppMarketingConsentUpdate(input: $input) { "
    "customerPhoneNumber { phoneNumber whatsAppMarketingConsent { state } } "
    "userErrors { field message code } } }"
)

WEBHOOK_SUBSCRIBE = (
    "mutation ShopNudgeWebhook($topic: WebhookSubscriptionTopic!, "
    "$webhookSubscription: WebhookSubscriptionInput!) { "
    "webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) { "
    "webhookSubscription { id topic } userErrors { field message } } }"
)
