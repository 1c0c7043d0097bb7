"""RQ jobs: webhook drains, campaign dispatch, MonitorCampaignJob, Shopify sync.

Nothing here imports web/. Jobs read settings from the environment, like the web process.
"""

# Each module is a workload; RQ stores its functions' dotted names (jobs.<module>.<function>).
__all__ = [
    "chains",
    "customer_import",
    "dispatch",
    "drain_flag",
    "fixes",
    "launch",
    "monitor",
    "orders",
    "periodic",
    "queues",
    "reconcile",
    "shopify",
    "webhooks",
    "whatsapp",
    "worker",
]
