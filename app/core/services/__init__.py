"""Use cases shared by the REST API, the admin pages and the admin CLI. They take ports, never clients."""

from app.core.services.actions import ActionService
from app.core.services.activations import ActivationService
from app.core.services.identities import IdentityService
from app.core.services.invocations import InvocationService, InvokeOutcome

__all__ = ["ActionService", "ActivationService", "IdentityService", "InvocationService", "InvokeOutcome"]
