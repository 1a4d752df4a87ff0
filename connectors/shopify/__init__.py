"""Shopify: GraphQL Admin API client, OAuth helpers, sync queries and webhook mapping."""
