"""Every GraphQL document the app sends to Shopify's Admin API, in one place.

Each is written against Shopify's published Admin schema of the version we call (2026-10;
tests/fixtures/shopify/admin-schema/) and a test validates every document here against it, so
a field Shopify does not have fails the tests, not a merchant's import. Names worth knowing:

- WhatsApp consent lives on the customer's default phone number,
  ``defaultPhoneNumber.whatsAppMarketingConsent { state updatedAt }`` (``Customer`` itself has
  no WhatsApp field); SMS consent beside it, ``smsMarketingConsent { state updatedAt }``. Both
  states are ``CustomerMarketingConsentState``: NEVER_SUBSCRIBED, PENDING, SUBSCRIBED,
  UNSUBSCRIBED, REDACTED.
- ``Customer.phone`` is deprecated in favour of ``defaultPhoneNumber.phoneNumber``.
- ``bulkOperationRunQuery`` takes ``groupObjects: Boolean!`` in 2026-10 (default false); we
  pass it explicitly, false: grouping is slower and our lines have no children.
"""

from __future__ import annotations

# Pages of customers by id; ``query`` narrows them (``updated_at:>'...'`` for the re-sync).
# The customer selection is the bulk export's too (BULK_CUSTOMERS); a test keeps them equal.
# Both are written out whole, with no string building, so each reads (and is checked) as sent.
CUSTOMERS_PAGE = """
query CustomersPage($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, sortKey: ID, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      firstName
      lastName
      tags
      updatedAt
      defaultAddress { countryCodeV2 }
      defaultPhoneNumber {
        phoneNumber
        whatsAppMarketingConsent { state updatedAt }
        smsMarketingConsent { state updatedAt }
      }
    }
  }
}
"""

# How many customers a shop has: decides between the paged import and a bulk operation.
CUSTOMERS_COUNT = """
query CustomersCount($limit: Int) {
  customersCount(limit: $limit) { count precision }
}
"""

SHOP_DETAILS = "query ShopDetails { shop { ianaTimezone currencyCode } }"

# The one-click calling-code fix. Both consents live on the phone number, and Shopify may not
# keep them when the number changes: the answer carries them, so we store what Shopify holds
# after the change and warn when the customer lost one (core/shopify/phone_fix.py).
CUSTOMER_UPDATE_PHONE = """
mutation FixCustomerPhone($input: CustomerInput!) {
  customerUpdate(input: $input) {
    customer {
      id
      updatedAt
      defaultPhoneNumber {
        phoneNumber
        whatsAppMarketingConsent { state updatedAt }
        smsMarketingConsent { state updatedAt }
      }
    }
    userErrors { field message }
  }
}
"""

# A stop the customer gave inside WhatsApp, written back so Shopify stays the truth.
WHATSAPP_CONSENT_UPDATE = """
mutation WriteBackWhatsAppConsent($input: CustomerWhatsAppMarketingConsentUpdateInput!) {
  customerWhatsAppMarketingConsentUpdate(input: $input) {
    customerPhoneNumber { whatsAppMarketingConsent { state updatedAt } }
    userErrors { field message code }
  }
}
"""

# The body of the bulk export (run by Shopify, not by us: it is sent as a string argument).
# Bulk queries page through connections themselves: no first/after, edges { node }.
BULK_CUSTOMERS = """
{
  customers {
    edges {
      node {
        id
        firstName
        lastName
        tags
        updatedAt
        defaultAddress { countryCodeV2 }
        defaultPhoneNumber {
          phoneNumber
          whatsAppMarketingConsent { state updatedAt }
          smsMarketingConsent { state updatedAt }
        }
      }
    }
  }
}
"""

BULK_RUN_QUERY = """
mutation StartBulkExport($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: false) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

BULK_OPERATION = """
query BulkExportState($id: ID!) {
  bulkOperation(id: $id) {
    id
    status
    errorCode
    createdAt
    objectCount
    url
    partialDataUrl
  }
}
"""

# The install-time import of recent orders (core/shopify/order_import.py), oldest first. Money
# is read in the shop's currency (``shopMoney``), as the webhooks' ``shop_money`` (the
# customer's ``presentmentMoney`` is kept for display only); ``test`` and
# ``displayFinancialStatus`` decide whether revenue counts the order (core/rules/order_states.py).
ORDERS_PAGE = """
query RecentOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      createdAt
      updatedAt
      cancelledAt
      test
      displayFinancialStatus
      currencyCode
      totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
      customer { id }
      refunds(first: 10) { id createdAt totalRefundedSet { shopMoney { amount currencyCode } } }
    }
  }
}
"""

# Billing (core/shopify/billing.py). A development store accepts only test charges, and Shopify
# says whether the shop is one in ``shop.plan.partnerDevelopment``.
BILLING_SHOP_PLAN = "query BillingShopPlan { shop { plan { partnerDevelopment } } }"

# A credit pack as a one-time purchase: Shopify answers the page to send the merchant to.
CREDIT_PURCHASE_CREATE = """
mutation BuyCreditPack($name: String!, $price: MoneyInput!, $returnUrl: URL!, $test: Boolean) {
  appPurchaseOneTimeCreate(name: $name, price: $price, returnUrl: $returnUrl, test: $test) {
    appPurchaseOneTime { id name status test createdAt price { amount currencyCode } }
    confirmationUrl
    userErrors { field message }
  }
}
"""

# One purchase read back by its id (the webhook's admin_graphql_api_id): a node of another app
# or shop is not answered to our token, so only our own purchase comes back as one.
CREDIT_PURCHASE = """
query CreditPurchase($id: ID!) {
  node(id: $id) {
    ... on AppPurchaseOneTime { id name status test createdAt price { amount currencyCode } }
  }
}
"""

# The shop's latest one-time purchases of our app, newest first: read when the merchant comes
# back from Shopify's approval page, so what they approved is credited without the webhook.
CREDIT_PURCHASES_RECENT = """
query RecentCreditPurchases($first: Int!) {
  currentAppInstallation {
    oneTimePurchases(first: $first, sortKey: CREATED_AT, reverse: true) {
      nodes { id name status test createdAt price { amount currencyCode } }
    }
  }
}
"""

# Every document above, by name: what the schema test walks.
DOCUMENTS = {
    "CUSTOMERS_PAGE": CUSTOMERS_PAGE,
    "CUSTOMERS_COUNT": CUSTOMERS_COUNT,
    "SHOP_DETAILS": SHOP_DETAILS,
    "CUSTOMER_UPDATE_PHONE": CUSTOMER_UPDATE_PHONE,
    "WHATSAPP_CONSENT_UPDATE": WHATSAPP_CONSENT_UPDATE,
    "BULK_CUSTOMERS": BULK_CUSTOMERS,
    "BULK_RUN_QUERY": BULK_RUN_QUERY,
    "BULK_OPERATION": BULK_OPERATION,
    "ORDERS_PAGE": ORDERS_PAGE,
    "BILLING_SHOP_PLAN": BILLING_SHOP_PLAN,
    "CREDIT_PURCHASE_CREATE": CREDIT_PURCHASE_CREATE,
    "CREDIT_PURCHASE": CREDIT_PURCHASE,
    "CREDIT_PURCHASES_RECENT": CREDIT_PURCHASES_RECENT,
}
