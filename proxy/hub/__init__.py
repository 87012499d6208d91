"""The hub: frames with resumable ids, a broker that keeps them, and bounded per-client subscribers."""
