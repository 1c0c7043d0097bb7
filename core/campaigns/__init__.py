"""A campaign before and after dispatch: its audience, drafts, launch checks and lifecycle, the
preview, tracked links, MonitorCampaignJob's settling, and the fix loop.

- ``audience``: opted-in customers narrowed by Shopify tags.
- ``drafts``: creating a draft and changing its audience.
- ``launch``: launch checks, launch, schedule, cancel.
- ``control``: unschedule, delete a draft, duplicate a campaign.
- ``launch_summary``: what launching will do: recipients, US numbers, cost, credits left.
- ``messaging_limit``: Meta's messaging limit before sending, and waves a day apart past it.
- ``resume``: sending what a halt kept back, once its cause is fixed.
- ``preview``: the message as one customer sees it.
- ``tracking``: each message's own tracked link, and what opening it does.
- ``monitor``: MonitorCampaignJob's work on one campaign.
- ``fix_loop``: from phone failures to fixed contacts to a message that arrives.
- ``us_numbers``: United States numbers and marketing templates.

``input_limits`` is internal: the lengths merchant text must fit.
"""

__all__ = [
    "audience",
    "control",
    "drafts",
    "fix_loop",
    "launch",
    "launch_summary",
    "messaging_limit",
    "monitor",
    "preview",
    "resume",
    "tracking",
    "us_numbers",
]
