"""Closing the loop: the outbox and its worker, owner alerts, digests, chat and outbound webhooks."""
