"""Gateway endpoints that combine several services' answers (cross-service flows)."""
