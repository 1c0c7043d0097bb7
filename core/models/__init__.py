"""SQLAlchemy models. Every shop-owned table carries ``shop_id`` first in its primary and
unique keys, so the tables can later be distributed by shop (Citus) without code changes."""

from core.models.base import Base
from core.models.billed import CampaignBilledCount
from core.models.campaign import Campaign
from core.models.click import Click
from core.models.customer import Customer
from core.models.experiment import CampaignHoldout, CampaignVariantCount
from core.models.failure import CampaignFailureCount
from core.models.inbox import InboxEvent, ParkedStatus
from core.models.message import Message
from core.models.meta_billing import MetaBilledRow, MetaBillingRead
from core.models.outcomes import CreditMovement, CreditPurchase, Order, OrderRefund, PhoneFix
from core.models.shop import Shop, ShopAlert
from core.models.shopify import (
    CustomerDataRequest,
    CustomerTombstone,
    PrivacyRequest,
    ShopifyWebhookDelivery,
)
from core.models.timing import CampaignTimingBucket
from core.models.whatsapp import MetaTemplateState, WhatsAppConnection

__all__ = [
    "Base",
    "CampaignBilledCount",
    "CampaignFailureCount",
    "Campaign",
    "CampaignHoldout",
    "CampaignTimingBucket",
    "CampaignVariantCount",
    "Click",
    "CreditMovement",
    "CreditPurchase",
    "Customer",
    "CustomerDataRequest",
    "CustomerTombstone",
    "InboxEvent",
    "Message",
    "MetaBilledRow",
    "MetaBillingRead",
    "MetaTemplateState",
    "Order",
    "OrderRefund",
    "ParkedStatus",
    "PhoneFix",
    "PrivacyRequest",
    "Shop",
    "ShopAlert",
    "ShopifyWebhookDelivery",
    "WhatsAppConnection",
]
