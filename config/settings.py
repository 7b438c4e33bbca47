"""The settings object: frozen dataclasses, validated on construction.

One ``Settings`` is built per process by ``config.loader.load_settings`` and passed down;
nothing reads the environment anywhere else.
"""

from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import defaults


class SettingsError(ValueError):
    """A setting has a value Squall cannot run with; the message names the setting."""


def _env(name: str) -> dict[str, str]:
    """Field metadata naming an environment variable other than the derived SQUALL_<SECTION>_<FIELD>."""
    return {"env": name}


def _env_fallback(name: str) -> dict[str, str]:
    """Field metadata naming a second variable, read when the first is unset (wsk's own ``WHISK_*`` names)."""
    return {"env_fallback": name}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SettingsError(message)


@dataclass(frozen=True)
class ControllerSettings:
    host: str = defaults.CONTROLLER_HOST
    port: int = defaults.CONTROLLER_PORT
    workers: int = defaults.CONTROLLER_WORKERS
    threads: int = defaults.CONTROLLER_THREADS
    api_host: str = defaults.CONTROLLER_API_HOST
    blocking_timeout_ms: int = defaults.BLOCKING_TIMEOUT_MS
    record_wait_s: float = defaults.RECORD_WAIT_S
    identity_cache_seconds: float = defaults.IDENTITY_CACHE_SECONDS
    entity_cache_seconds: int = defaults.ENTITY_CACHE_SECONDS
    drain_margin_s: float = defaults.CONTROLLER_DRAIN_MARGIN_S
    auth_failures_per_minute: int = defaults.AUTH_FAILURES_PER_MINUTE

    def __post_init__(self) -> None:
        _require(0 < self.port < 65536, f"controller.port must be 1..65535, got {self.port}")
        _require(self.workers >= 1, "controller.workers must be at least 1")
        _require(self.threads >= 1, "controller.threads must be at least 1")
        _require(self.blocking_timeout_ms >= 1, "controller.blocking_timeout_ms must be positive")
        _require(self.record_wait_s >= 0, "controller.record_wait_s must be 0 (off) or more")
        _require(self.entity_cache_seconds >= 0, "controller.entity_cache_seconds must be 0 (off) or more")
        _require(self.drain_margin_s >= 0, "controller.drain_margin_s must be 0 or more")
        _require(self.auth_failures_per_minute >= 1, "controller.auth_failures_per_minute must be at least 1")
        _require(self.api_host.startswith(("http://", "https://")),
                 f"controller.api_host must be an http(s) URL, got {self.api_host!r}")


@dataclass(frozen=True)
class CouchDBSettings:
    url: str = defaults.COUCHDB_URL
    prefix: str = defaults.COUCHDB_PREFIX
    timeout_s: float = defaults.COUCHDB_TIMEOUT_S
    serve_stale_s: float = defaults.COUCHDB_SERVE_STALE_S

    def __post_init__(self) -> None:
        _require(self.url.startswith(("http://", "https://")),
                 f"couchdb.url must be an http(s) URL, got {self.url!r}")
        _require(self.serve_stale_s >= 0, "couchdb.serve_stale_s must be 0 (off) or more")
        # CouchDB database names: lower case letters, digits and _$()+-/ , starting with a letter.
        _require(self.prefix == "" or (self.prefix[0].isalpha() and self.prefix == self.prefix.lower()),
                 f"couchdb.prefix must start with a lower-case letter, got {self.prefix!r}")


@dataclass(frozen=True)
class StoreSettings:
    kind: str = defaults.STORE_KIND
    path: str = defaults.STORE_PATH

    def __post_init__(self) -> None:
        _require(bool(self.kind), "store.kind must name a store, e.g. couchdb or sqlite")


@dataclass(frozen=True)
class BrokerSettings:
    url: str = field(default=defaults.BROKER_URL, metadata=_env("SQUALL_BROKER_URL"))
    result_backend: str = field(default=defaults.RESULT_BACKEND, metadata=_env("SQUALL_RESULT_BACKEND"))
    result_expires_s: int = defaults.RESULT_EXPIRES_S
    task_events: bool = defaults.TASK_EVENTS

    def __post_init__(self) -> None:
        _require("://" in self.url, f"broker.url must be a kombu URL, got {self.url!r}")
        _require("://" in self.result_backend,
                 f"broker.result_backend must be a Celery backend URL, got {self.result_backend!r}")


def default_invoker_name() -> str:
    """``invoker-<hostname>``, with what an invoker name may not hold replaced by ``-``."""
    host = "".join(c if c.isalnum() or c in "-_" else "-" for c in socket.gethostname()) or "host"
    return f"invoker-{host}"


@dataclass(frozen=True)
class InvokerSettings:
    name: str = defaults.INVOKER_NAME
    queues: tuple[str, ...] = defaults.INVOKER_QUEUES
    threads: int = defaults.INVOKER_THREADS
    user_memory_mb: int = defaults.INVOKER_USER_MEMORY_MB
    factory: str = defaults.INVOKER_FACTORY
    network: str = defaults.INVOKER_NETWORK
    api_host: str = defaults.INVOKER_API_HOST
    idle_timeout_s: float = defaults.INVOKER_IDLE_TIMEOUT_S
    idle_policy: str = defaults.INVOKER_IDLE_POLICY
    pause_grace_s: float = defaults.INVOKER_PAUSE_GRACE_S
    isolate: bool = defaults.INVOKER_ISOLATE
    process_dir: str = defaults.INVOKER_PROCESS_DIR
    process_network: str = defaults.INVOKER_PROCESS_NETWORK
    heartbeat_s: float = defaults.INVOKER_HEARTBEAT_S
    silent_after_s: float = defaults.INVOKER_SILENT_AFTER_S
    log_file_mb: int = defaults.INVOKER_LOG_FILE_MB
    code_cache_mb: int = defaults.INVOKER_CODE_CACHE_MB
    record_linger_ms: float = defaults.INVOKER_RECORD_LINGER_MS

    def __post_init__(self) -> None:
        if not self.name:  # frozen: the derived default is set once, here
            object.__setattr__(self, "name", default_invoker_name())
        _require(self.name.replace("-", "").replace("_", "").isalnum(),
                 f"invoker.name may hold letters, digits, '-' and '_' only, got {self.name!r}")
        _require(self.heartbeat_s > 0, "invoker.heartbeat_s must be positive")
        _require(self.silent_after_s > self.heartbeat_s,
                 "invoker.silent_after_s must be longer than invoker.heartbeat_s")
        _require(self.threads >= 1, "invoker.threads must be at least 1")
        _require(self.log_file_mb >= 1, "invoker.log_file_mb must be at least 1")
        _require(self.code_cache_mb >= 0, "invoker.code_cache_mb must be 0 (off) or more")
        _require(0 <= self.record_linger_ms <= 1000, "invoker.record_linger_ms must be between 0 and 1000")
        _require(self.user_memory_mb >= defaults.LIMIT_MIN_MEMORY_MB,
                 f"invoker.user_memory_mb must hold at least one {defaults.LIMIT_MIN_MEMORY_MB} MB action")
        _require(self.idle_timeout_s > 0, "invoker.idle_timeout_s must be positive")
        _require(self.idle_policy in ("running", "pause"),
                 f"invoker.idle_policy must be 'running' or 'pause', got {self.idle_policy!r}")
        _require(self.pause_grace_s >= 0, "invoker.pause_grace_s must not be negative")
        _require(self.process_network in ("isolated", "host"),
                 f"invoker.process_network must be 'isolated' or 'host', got {self.process_network!r}")


@dataclass(frozen=True)
class RuntimesSettings:
    manifest: str = defaults.RUNTIMES_MANIFEST

    @property
    def manifest_path(self) -> Path:
        """The manifest to load: the configured one, else ``runtimes/manifest.json`` beside the code."""
        return Path(self.manifest) if self.manifest else self.directory / "manifest.json"

    @property
    def directory(self) -> Path:
        """The ``runtimes/`` folder of this checkout (Dockerfiles and proxies)."""
        return Path(__file__).resolve().parent.parent / "runtimes"

    @property
    def catalog_path(self) -> Path:
        """The ``/whisk.system`` catalog actions' code, one folder per package."""
        return self.directory / "catalog"


@dataclass(frozen=True)
class LimitsSettings:
    min_timeout_ms: int = defaults.LIMIT_MIN_TIMEOUT_MS
    max_timeout_ms: int = defaults.LIMIT_MAX_TIMEOUT_MS
    default_timeout_ms: int = defaults.LIMIT_DEFAULT_TIMEOUT_MS
    min_memory_mb: int = defaults.LIMIT_MIN_MEMORY_MB
    max_memory_mb: int = defaults.LIMIT_MAX_MEMORY_MB
    default_memory_mb: int = defaults.LIMIT_DEFAULT_MEMORY_MB
    min_logs_mb: int = defaults.LIMIT_MIN_LOGS_MB
    max_logs_mb: int = defaults.LIMIT_MAX_LOGS_MB
    default_logs_mb: int = defaults.LIMIT_DEFAULT_LOGS_MB
    min_concurrency: int = defaults.LIMIT_MIN_CONCURRENCY
    max_concurrency: int = defaults.LIMIT_MAX_CONCURRENCY
    default_concurrency: int = defaults.LIMIT_DEFAULT_CONCURRENCY
    payload_bytes: int = defaults.LIMIT_PAYLOAD_BYTES
    exec_bytes: int = defaults.LIMIT_EXEC_BYTES
    code_inline_bytes: int = defaults.LIMIT_CODE_INLINE_BYTES
    parameters_bytes: int = defaults.LIMIT_PARAMETERS_BYTES
    sequence_max_length: int = defaults.LIMIT_SEQUENCE_MAX_LENGTH
    invocations_per_minute: int = defaults.LIMIT_INVOCATIONS_PER_MINUTE
    concurrent_invocations: int = defaults.LIMIT_CONCURRENT_INVOCATIONS
    fires_per_minute: int = defaults.LIMIT_FIRES_PER_MINUTE

    def __post_init__(self) -> None:
        for name in ("timeout_ms", "memory_mb", "logs_mb", "concurrency"):
            low, high, default = (getattr(self, f"{p}_{name}") for p in ("min", "max", "default"))
            _require(0 <= low <= default <= high, f"limits: need min_{name} <= default_{name} <= max_{name}")
        _require(self.sequence_max_length >= 1, "limits.sequence_max_length must be at least 1")
        _require(self.code_inline_bytes >= 0, "limits.code_inline_bytes must be 0 (attach all code) or more")


@dataclass(frozen=True)
class SchedulerSettings:
    queue: str = defaults.SCHEDULER_QUEUE
    poll_s: float = defaults.SCHEDULER_POLL_S
    fire_retries: int = defaults.SCHEDULER_FIRE_RETRIES

    def __post_init__(self) -> None:
        _require(self.queue.strip() != "", "scheduler.queue must name a queue")
        _require(0 < self.poll_s <= 60, "scheduler.poll_s must be in (0, 60]")
        _require(self.fire_retries >= 0, "scheduler.fire_retries must not be negative")


@dataclass(frozen=True)
class RetentionSettings:
    keep_days: int = defaults.RETENTION_KEEP_DAYS
    interval_s: float = defaults.RETENTION_INTERVAL_S
    batch: int = defaults.RETENTION_BATCH
    pause_s: float = defaults.RETENTION_PAUSE_S

    def __post_init__(self) -> None:
        _require(0 <= self.keep_days <= 36_500, "retention.keep_days must be 0 (keep for ever) to 36500")
        _require(self.interval_s > 0, "retention.interval_s must be positive")
        _require(1 <= self.batch <= 10_000, "retention.batch must be 1..10000")
        _require(0 <= self.pause_s <= 60, "retention.pause_s must be in [0, 60]")


@dataclass(frozen=True)
class ClientSettings:
    """What the client verbs connect with, over ``~/.wskprops`` (the flags are over these; app/cli/clientconfig.py)."""

    apihost: str = field(default=defaults.CLIENT_APIHOST, metadata=_env_fallback("WHISK_APIHOST"))
    auth: str = field(default=defaults.CLIENT_AUTH, metadata=_env_fallback("WHISK_AUTH"))
    # wsk's variable: set, even to empty (no file), it replaces ~/.wskprops
    config_file: str = field(default=defaults.CLIENT_CONFIG_FILE, metadata=_env("WSK_CONFIG_FILE"))

    def __post_init__(self) -> None:
        _require(self.auth == "" or ":" in self.auth,
                 "client.auth must be 'uuid:key'")


@dataclass(frozen=True)
class AdminSettings:
    operator: str = defaults.ADMIN_OPERATOR
    operator_password_hash: str = field(default=defaults.ADMIN_OPERATOR_PASSWORD_HASH, repr=False)
    secret_key: str = field(default=defaults.ADMIN_SECRET_KEY, repr=False)
    cookie_secure: bool = defaults.ADMIN_COOKIE_SECURE
    session_hours: float = defaults.ADMIN_SESSION_HOURS
    login_attempts_per_minute: int = defaults.ADMIN_LOGIN_ATTEMPTS_PER_MINUTE
    flower_url: str = defaults.ADMIN_FLOWER_URL

    def __post_init__(self) -> None:
        _require(self.operator.strip() != "" and ":" not in self.operator,
                 "admin.operator must be a name without ':' (namespace logins are uuid:key)")
        _require(self.operator_password_hash == "" or "$" in self.operator_password_hash,
                 "admin.operator_password_hash must be a werkzeug password hash "
                 "(squall admin operator hash-password)")
        _require(self.session_hours > 0, "admin.session_hours must be positive")
        _require(self.login_attempts_per_minute >= 1, "admin.login_attempts_per_minute must be at least 1")


@dataclass(frozen=True)
class FlowerSettings:
    host: str = defaults.FLOWER_HOST
    port: int = defaults.FLOWER_PORT
    basic_auth: str = field(default=defaults.FLOWER_BASIC_AUTH, repr=False)

    def __post_init__(self) -> None:
        _require(0 < self.port < 65536, f"flower.port must be 1..65535, got {self.port}")
        _require(self.basic_auth == "" or ":" in self.basic_auth, "flower.basic_auth must be 'user:password'")


@dataclass(frozen=True)
class MetricsSettings:
    token: str = field(default=defaults.METRICS_TOKEN, repr=False)
    invoker_host: str = defaults.METRICS_INVOKER_HOST
    invoker_port: int = defaults.METRICS_INVOKER_PORT

    def __post_init__(self) -> None:
        # A guessable token would hand every namespace's names and traffic to whoever guessed it.
        _require(self.token == "" or len(self.token) >= 16, "metrics.token must be at least 16 characters")
        _require(0 <= self.invoker_port < 65536, f"metrics.invoker_port must be 0..65535, got {self.invoker_port}")
        _require(self.invoker_port == 0 or self.token != "",
                 "metrics.invoker_port needs metrics.token: the invoker serves its metrics to bearers of it only")


@dataclass(frozen=True)
class LogSettings:
    format: str = defaults.LOG_FORMAT

    def __post_init__(self) -> None:
        _require(self.format in ("text", "json"), f"log.format must be text or json, got {self.format!r}")


@dataclass(frozen=True)
class Settings:
    controller: ControllerSettings = field(default_factory=ControllerSettings)
    couchdb: CouchDBSettings = field(default_factory=CouchDBSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    invoker: InvokerSettings = field(default_factory=InvokerSettings)
    runtimes: RuntimesSettings = field(default_factory=RuntimesSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    client: ClientSettings = field(default_factory=ClientSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    flower: FlowerSettings = field(default_factory=FlowerSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    log: LogSettings = field(default_factory=LogSettings)

    def replace(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some fields of some sections changed: ``s.replace(couchdb={"prefix": "t_"})``."""
        changed = {name: dataclasses.replace(getattr(self, name), **values) for name, values in sections.items()}
        return dataclasses.replace(self, **changed)


