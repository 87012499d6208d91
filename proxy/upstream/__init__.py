"""Upstream: the Genesys side (status tracking, token, Event Bus, Notifications, backfill)."""
