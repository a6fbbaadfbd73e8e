"""Field types of the cases models; the generic ones are in shared.schemas."""

from typing import Literal

RiskLevel = Literal["low", "medium", "high", "critical"]
ContactMode = Literal["home_visit", "phone", "office", "online", "outreach"]
