"""Which access scopes a shop has granted the app, asked of Shopify itself.

The OAuth answer's `scope` is only what was granted at install: a managed install's owner
approves new scopes later, without a new token, and a token pasted by the owner came with no
answer at all. `currentAppInstallation.accessScopes` is the grant as it stands.
https://shopify.dev/docs/api/usage/access-scopes#checking-granted-access-scopes
"""

from __future__ import annotations

from connectors.shopify.client import ShopifyClient

GRANTED_SCOPES = "query GrantedScopes { currentAppInstallation { accessScopes { handle } } }"


def granted_scopes(client: ShopifyClient) -> frozenset[str]:
    """The handles of every scope the shop has granted, as Shopify lists them now."""
    installation = client.execute(GRANTED_SCOPES, {})["currentAppInstallation"]
    return frozenset(scope["handle"] for scope in installation["accessScopes"])
