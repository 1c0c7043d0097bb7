"""A shop's WhatsApp Business connection: checked with Meta, subscribed, stored, described."""
