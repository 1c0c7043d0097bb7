"""The funnel of a group of messages as DESIGN.md defines it, shared by the campaign counters
(core/counts/recount.py) and the variants' kept rows (core/counts/variants.py)."""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Metrics:
    """A funnel's counts: what the counters keep for a campaign and the kept rows for a variant."""

    messages: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    clicked: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# The metrics of a group of messages ``m`` as DESIGN.md defines them: the counters, and every
# other grouping of the same messages (an A/B campaign's variants, core/reports/variants.py).
METRICS_SQL = """
           count(*) AS messages_count,
           count(m.wamid) AS sent_count,
           count(*) FILTER (WHERE m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL) AS delivered_count,
           count(m.read_at) AS read_count,
           count(*) FILTER (WHERE m.status IN ('failed', 'expired')) AS failed_count"""
