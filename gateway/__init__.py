"""The gateway: identity (stations, users, tokens), proxying, aggregates and sync."""
