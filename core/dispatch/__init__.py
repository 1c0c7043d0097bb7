"""Campaign dispatch in three steps, each one short transaction so a crash loses nothing:
materialise the audience into message rows (once), claim a batch (pre-send checks, credits,
mark the rest as handed to Meta), and record what Meta answered. The HTTP calls happen
between the claim and the record, outside any transaction (jobs/dispatch.py).

Lock order, shared with the webhook drain: messages first, then the campaign row, then the shop.

- ``materialise``, ``claim``, ``record``: the three steps.
- ``progress``: what is left to send, when it is due, whether dispatch is over.
- ``rate``, ``throttle``: the number's cap and the Redis structures that keep every worker to it.
- halting a campaign, with the code that stopped it, is ``core/meta_webhooks/halt.py``: the
  webhook drain halts campaigns too.
- ``stop``: when a shop can no longer send (uninstalled, WhatsApp disconnected), and stopping
  its campaigns.

Internal: ``send_policy`` (what a refused send means), ``counted_halt`` (the refusals that halt
only by count).
"""

__all__ = ["claim", "materialise", "progress", "rate", "record", "stop", "throttle"]
