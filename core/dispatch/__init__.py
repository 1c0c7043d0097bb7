"""Campaign dispatch in three steps, each one short transaction so a crash loses nothing:
materialise the audience into message rows (once), claim a batch (pre-send checks, credits,
mark the rest as handed to Meta), and record what Meta answered. The HTTP calls happen
between the claim and the record, outside any transaction (jobs/dispatch.py).

Lock order, shared with the webhook drain: messages first, then the campaign row, then the shop.
"""
