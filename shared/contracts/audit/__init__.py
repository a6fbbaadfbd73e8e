"""Every process's audit rows, asked by the gateway for GET /v1/audit and merged there by time.
The route each service mounts is shared.audit's internal_audit_router."""
