"""Tables of the gateway, in the `gateway` schema."""

from shared.models import make_base

Base = make_base("gateway")
