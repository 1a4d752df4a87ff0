"""Every table of ShopNudge; importing this registers them all on Base.metadata."""

from plugin.models.campaigns import Campaign, CampaignStatus
from plugin.models.carts import Cart, CartLine, CartState
from plugin.models.catalog import Product, Variant
from plugin.models.consent import (
    ConsentEvent,
    ConsentKind,
    OptinWording,
    Subscription,
    SubscriptionState,
)
from plugin.models.customer import Customer
from plugin.models.notifications import (
    TERMINAL_STATES,
    Conversion,
    Flow,
    Notification,
    NotificationState,
)
from plugin.models.ops import (
    AuditEntry,
    DataExport,
    JobLease,
    LoginToken,
    OAuthState,
    RateBucket,
    SyncState,
)
from plugin.models.orders import Order, OrderLine
from plugin.models.store import DEFAULT_SETTINGS, Platform, Store, StoreStatus
from plugin.models.webhooks import WebhookDelivery
from plugin.models.whatsapp import WhatsAppAccount, WhatsAppTemplate

__all__ = [
    "DEFAULT_SETTINGS",
    "TERMINAL_STATES",
    "AuditEntry",
    "Campaign",
    "CampaignStatus",
    "Cart",
    "CartLine",
    "CartState",
    "ConsentEvent",
    "ConsentKind",
    "Conversion",
    "Customer",
    "DataExport",
    "Flow",
    "JobLease",
    "LoginToken",
    "Notification",
    "NotificationState",
    "OAuthState",
    "OptinWording",
    "Order",
    "OrderLine",
    "Platform",
    "Product",
    "RateBucket",
    "Store",
    "StoreStatus",
    "Subscription",
    "SubscriptionState",
    "SyncState",
    "Variant",
    "WebhookDelivery",
    "WhatsAppAccount",
    "WhatsAppTemplate",
]
