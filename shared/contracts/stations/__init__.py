"""Station replication: the gateway owns the station tree and pushes every change to each
service's replica, from the highest change the service says it applied (gateway/replication.py)."""
