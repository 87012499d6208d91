"""The ``queuecast`` command: one entry point for the proxy, the simulator, the demo and the bench."""
