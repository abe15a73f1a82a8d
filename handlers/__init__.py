"""Features, each with its own router; ALL_ROUTERS is what the app mounts, in help order."""

from handlers.core import router as core_router
from handlers.onboarding import router as onboarding_router

ALL_ROUTERS = [core_router, onboarding_router]
