"""Queue state: normalized observations, the reducer, views and the aggregator."""
