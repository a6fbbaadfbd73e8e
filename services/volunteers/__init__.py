"""The volunteers service: purchased-service volunteers, group work and community activities."""
