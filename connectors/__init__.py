"""Platform connectors: each turns one platform's API and webhooks into plain records.

base holds the Connector protocol and its records; errors, network (a call's time budget),
money, profile and coupons are shared by every platform; shopify/ and woocommerce/ are one
package each. Nothing here imports plugin, Flask or SQLAlchemy.
"""
