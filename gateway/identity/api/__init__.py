"""HTTP endpoints of identity: /v1/stations, /v1/users, /v1/auth, /v1/me, /v1/devices."""

from fastapi import APIRouter

from gateway.identity.api import auth, devices, stations, users

router = APIRouter(prefix="/v1")
router.include_router(auth.router)
router.include_router(stations.router)
router.include_router(users.router)
router.include_router(devices.router)
