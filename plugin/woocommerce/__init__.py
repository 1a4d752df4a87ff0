"""WooCommerce in the application: install (REST keys in), setup, client, routes, webhooks,
jobs and checkout consent. `connectors.woocommerce` speaks to WooCommerce; this package decides
what that means for our rows. The module names match `plugin.shopify`'s, role for role.
"""
