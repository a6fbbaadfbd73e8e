"""Contracts between the gateway and the services (ARCHITECTURE.md "Contracts between processes"):
each in its own package, with its request and answer (`schemas`), the router the services mount
(`server`) and the typed client the gateway calls (`client`)."""
