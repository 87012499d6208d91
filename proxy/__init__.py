"""queuecast proxy: Genesys Cloud queue events in, Server-Sent Events out."""
