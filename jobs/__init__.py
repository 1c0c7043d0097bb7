"""RQ jobs: webhook drains, campaign dispatch, MonitorCampaignJob, Shopify sync.

Nothing here imports web/. Jobs read settings from the environment, like the web process.
"""
