"""Shopify in the application: installs, tokens, webhooks, consent kept in step with Shopify.

`connectors.shopify` speaks to Shopify; this package decides what that means for our rows.
"""
