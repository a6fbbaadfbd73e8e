"""Which stations and which workers recorded any service (ARCHITECTURE.md "Counting contract"): the sets
the gateway unions into stations.active and staff.active_workers."""
