"""The audit contract: every process's audit rows, read by the gateway's /v1/audit."""
