"""``Services``: the use cases of ``app.core.services`` gathered as one object, the one thing a request handler
(REST API view or admin page) reaches for. Built once per process by ``app.wiring.build_services``; holding no
store or client itself, so the web layer depends on the use cases and never on how they are wired.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.manifest import RuntimeManifest
from app.core.ports import InvokerMonitor
from app.core.services import ActionService, ActivationService, IdentityService, InvocationService
from app.core.services.alarms import AlarmService
from app.core.services.apis import ApiService
from app.core.services.limits import LimitsService
from app.core.services.logins import LoginThrottle
from app.core.services.packages import PackageService
from app.core.services.rules import RuleService
from app.core.services.triggers import TriggerService
from app.core.services.web import WebActionService
from config import Settings

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    """Every use case a request (REST API or admin page) may call; built once per process."""

    settings: Settings
    manifest: RuntimeManifest
    identities: IdentityService
    actions: ActionService
    invocations: InvocationService
    activations: ActivationService
    packages: PackageService
    triggers: TriggerService
    rules: RuleService
    alarms: AlarmService
    invokers: InvokerMonitor
    limits: LimitsService
    logins: LoginThrottle
    apis: ApiService
    web: WebActionService
