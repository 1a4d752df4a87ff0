"""Shopify: the GraphQL Admin API client, OAuth (auth), scopes, queries, bulk operations,
mapping to records, the connector (sync), coupons and webhooks."""
