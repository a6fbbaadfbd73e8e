"""Distinct persons served, per group, from the services that keep person sets (shared/persons.py):
each answers a group's person numbers as a Roaring bitmap; the gateway unions them across services
exactly (union.py) without seeing a beneficiary id."""
