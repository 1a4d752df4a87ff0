"""Shopify in the application: install, client, routes, webhooks, jobs, consent, the embedded
admin (embedded) and the storefront doors (storefront, app_proxy, session_token, app_metafield).
`connectors.shopify` speaks to Shopify; this package decides what that means for our rows. The
module names match `plugin.woocommerce`'s, role for role.
"""
