"""The gateway's side of every service: pooled clients, the resource proxy, merged API docs."""

from gateway.upstream.clients import SERVICES, Upstreams
from gateway.upstream.openapi import install_merged_openapi
from gateway.upstream.proxy import PROXIED_PREFIXES, install_proxy

__all__ = ["PROXIED_PREFIXES", "SERVICES", "Upstreams", "install_merged_openapi", "install_proxy"]
