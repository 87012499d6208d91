"""The queuecast benchmark: harness, report, regression gate, and trace record/replay.

Everything here talks to the proxy over real loopback HTTP connections; the proxy runs in its own
process so its CPU and memory can be measured and it never shares an event loop with the clients.
"""
