"""Features, each with its own router; ALL_ROUTERS is what the app mounts, in help order."""

from handlers.complaints.filing import router as filing_router
from handlers.complaints.working import router as working_router
from handlers.core import router as core_router
from handlers.digests.chat import router as digests_router
from handlers.digests.export_chat import router as exports_router
from handlers.inspections.chat import router as inspections_router
from handlers.inspections.lenient import router as lenient_router
from handlers.onboarding import router as onboarding_router
from handlers.policies.chat import router as policies_router
from handlers.projects.chat import router as projects_router
from handlers.projects.ledger_chat import router as ledger_router
from handlers.projects.supervision_chat import router as supervision_router

ALL_ROUTERS = [
    core_router,
    onboarding_router,
    filing_router,
    working_router,
    inspections_router,
    lenient_router,
    policies_router,
    projects_router,
    supervision_router,
    ledger_router,
    exports_router,
    digests_router,
]
