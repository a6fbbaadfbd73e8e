"""Distinct persons served, per group, from the services that keep person sets (shared/persons.py):
each answers a group's members exactly when there are at most `exact_limit`, else an HLL sketch of
them; the gateway unions them across services (union.py) without seeing a beneficiary id."""
