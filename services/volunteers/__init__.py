"""The volunteers service: the volunteer registry, teams, service hours, training and awards, certificates."""
