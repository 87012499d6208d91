"""Ingest: callback envelopes, authentication, topic filter, dedupe, translation to observations."""
