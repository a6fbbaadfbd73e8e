"""Dashboard aggregates: /v1/stats/summary, /timeseries and /breakdown.

The gateway fans a stats query out to the services' counting contract (their daily rollups
and person sets, never their records), merges the answers, and serves them with an ETag
from a short-lived cache that a burst of identical polls shares.
"""
