"""The projects service: purchased-service projects, group work and community activities."""
