"""The administrator's audit query over every process's audit log (the gateway's own: gateway.models.AuditLog)."""
