"""Which handler processes each source's stored webhook deliveries: one line per platform.

Data, like the job table and the blueprints: before, each platform module registered its handler
when it was imported, so a process that had not imported it (a worker without that blueprint)
left that platform's deliveries waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from plugin.inbox import Handler
from plugin.shopify import webhooks as shopify
from plugin.whatsapp import webhooks as whatsapp
from plugin.woocommerce import webhooks as woocommerce

#: Source (as stored in webhook_deliveries.source) -> its handler.
HANDLERS: Mapping[str, Handler] = MappingProxyType(
    {
        "shopify": shopify.handle_delivery,
        woocommerce.SOURCE: woocommerce.handle_delivery,
        whatsapp.SOURCE: whatsapp.handle_delivery,
    }
)
