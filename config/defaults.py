"""Every default Squall uses, one documented constant each. No I/O here.

The loader starts from these; a config file, ``SQUALL_*`` variables and explicit
overrides are layered on top (see ``config.loader``).
"""

CONTROLLER_HOST = "127.0.0.1"
"""Address the controller binds to."""

CONTROLLER_PORT = 3233
"""Port of the REST API; 3233 is what OpenWhisk standalone uses, so ``wsk`` habits carry over."""

CONTROLLER_WORKERS = 2
"""gunicorn worker processes."""

CONTROLLER_THREADS = 64
"""gunicorn gthread threads per worker: each blocking invoke holds one for up to 60 s."""

CONTROLLER_API_HOST = "http://127.0.0.1:3233"
"""The URL actions see as ``__OW_API_HOST`` and clients are told to use."""

BLOCKING_TIMEOUT_MS = 60_000
"""Longest a blocking invoke waits before answering 202 (OpenWhisk: 60 s)."""

CONTROLLER_DRAIN_MARGIN_S = 10.0
"""What a stopping controller allows beyond the longest blocking wait before it cuts requests: the work a
blocking invoke does before its wait (auth, the action, publishing with confirms) and after it (the answer)."""

RECORD_WAIT_S = 3.0
"""How long ``GET /activations/{id}`` (and ``/logs``, ``/result``) waits for the stored record of an activation
that has finished but whose record has not landed yet, before answering the result backend's copy (no logs).
The invoker answers first, then collects the logs (up to 2 s when the log sentinels trail) and stores the record;
0 answers the copy at once."""

IDENTITY_CACHE_SECONDS = 5.0
"""How long the controller trusts a looked-up subject, or the store's word that a uuid is unknown, before reading
CouchDB again."""

AUTH_FAILURES_PER_MINUTE = 60
"""Failed API authentications one client address, or one uuid, may cause per minute before further failures are
answered 429 instead of 401 (a correct key is never refused by this)."""

ENTITY_CACHE_SECONDS = 300
"""Life of an entity's recorded revision in Redis, which the controller checks before using a cached action;
0 turns the entity cache off. It bounds staleness only if Redis lost a write's revision."""

COUCHDB_URL = "http://127.0.0.1:5984"
"""CouchDB (or any CouchDB-API server); credentials go in the URL."""

COUCHDB_PREFIX = "squall_"
"""Prefix of the three databases: <prefix>subjects, <prefix>whisks, <prefix>activations."""

COUCHDB_TIMEOUT_S = 10.0
"""Per-request timeout against CouchDB."""

COUCHDB_SERVE_STALE_S = 300.0
"""While CouchDB cannot be reached, a controller serves identities, namespace limits and cached entities it read
up to this long ago (0: none; the request answers 503)."""

STORE_KIND = "couchdb"
"""Document store by alias (``app.store.STORES``: couchdb, sqlite) or ``module:Class``."""

STORE_PATH = "squall.db"
"""The SQLite file of the sqlite store (relative paths are taken from the working directory)."""

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
"""Celery broker; RabbitMQ is the one we test."""

RESULT_BACKEND = "redis://127.0.0.1:6379/0"
"""Celery result backend, where blocking invokes wait for their result (pushed, not polled)."""

RESULT_EXPIRES_S = 600
"""How long a result stays in the backend after the activation finished."""

TASK_EVENTS = False
"""Send Celery task events (Flower needs them; they halve throughput on 2 cores)."""

INVOKER_NAME = ""
"""Invoker identity: its Celery queue, worker name and container-name prefix. Empty: ``invoker-<hostname>``,
unique per host (name each one when a host runs several)."""

INVOKER_QUEUES: tuple[str, ...] = ()
"""An allow-list of invokers a controller places work on; empty: every invoker that announces itself."""

INVOKER_HEARTBEAT_S = 1.0
"""How often an invoker announces itself (health, capacity, containers) in the invoker registry."""

INVOKER_SILENT_AFTER_S = 3.0
"""An invoker silent this long is out of placement, and its queued work is handed to the others."""

INVOKER_LOG_FILE_MB = 16
"""Docker rotates a container's log file at this size and keeps one older file: at most twice this on disk per
container, whatever an action prints. Keep it above ``limits.max_logs_mb`` (one activation's logs)."""

INVOKER_RECORD_LINGER_MS = 5.0
"""How long the invoker's record writer waits for more records once it has one, to store them in one
``_bulk_docs`` (each request costs about the same CPU whatever it carries; ``workers.records``). Longer: fewer,
larger requests, each activation's task (and its broker message) held that much longer; blocking callers are
answered before, either way."""
INVOKER_CODE_CACHE_MB = 256
"""Attached action code an invoker keeps in memory (by attachment, least recently used first out), so a warm
invoke of a large action does not read its code again. 0 reads it for every activation."""

INVOKER_THREADS = 16
"""Activations one invoker runs at once (Celery thread pool size)."""

INVOKER_USER_MEMORY_MB = 4096
"""Memory the invoker's action containers may use together."""

INVOKER_FACTORY = "docker"
"""Container factory by alias (``workers.factories.FACTORIES``) or ``module:Class``."""

INVOKER_NETWORK = "squall-actions"
"""Docker bridge network action containers join; the invoker creates it (inter-container traffic off)."""

INVOKER_ISOLATE = False
"""Install the iptables rules that keep action containers away from the invoker host and the services
(``squall invoker isolate`` does the same as an operator command); needs root."""

INVOKER_API_HOST = ""
"""``__OW_API_HOST`` as seen from inside containers; empty means the controller's api_host, which the docker factory
moves onto the action network's gateway (same port) when it is on loopback or 0.0.0.0 (the container itself)."""

INVOKER_IDLE_TIMEOUT_S = 600.0
"""An idle warm container is removed after this long."""

INVOKER_IDLE_POLICY = "running"
"""What an idle warm container does until it is removed: ``running`` (stays as it is) or ``pause``
(``docker pause`` after ``pause_grace_s``, unpaused on reuse). bench/pause_cost.py measured why
``running`` is the default (README, "Container pool")."""

INVOKER_PAUSE_GRACE_S = 10.0
"""With idle policy ``pause``: idle seconds before a warm container is paused (OpenWhisk's pause grace)."""
INVOKER_PROCESS_DIR = ""
"""Where the ``process`` factory keeps each action process's scratch directory and log; empty means
``/var/lib/squall/<invoker name>`` as root, else ``<system temp>/squall-<invoker name>``. It must be reachable by
the unprivileged users actions run as; under ``/tmp`` the containers' ``/tmp`` is read-only (their own scratch
tmpfs cannot be laid over it)."""
INVOKER_PROCESS_NETWORK = "isolated"
"""``isolated``: each ``process`` container has a network namespace of its own, reaching the API host only
(workers/factories/sandbox.py); ``host``: actions share the host's network (they can reach other hosts, and
every service on this one)."""

SCHEDULER_QUEUE = "squall-alarms"
"""Celery queue the scheduler's alarm fires go through (its embedded worker consumes it)."""

SCHEDULER_POLL_S = 1.0
"""Longest the scheduler waits between looks at the store for due alarms."""

SCHEDULER_FIRE_RETRIES = 5
"""How often a failed alarm fire (controller down, 5xx, 429) is retried, with backoff, before it is dropped."""

RETENTION_KEEP_DAYS = 30
"""Days an activation record is kept before the scheduler deletes it; a namespace may override it
(``squall admin limits set NS --activations-keep-days N``); 0 keeps records for ever (no sweeps)."""

RETENTION_INTERVAL_S = 3600.0
"""Time from the end of one retention sweep to the start of the next."""

RETENTION_BATCH = 500
"""Records one sweep request deletes at most (one view query and one bulk delete)."""

RETENTION_PAUSE_S = 0.5
"""Pause between two batches of a sweep, so that deleting old records never crowds out the hot path."""

CLIENT_APIHOST = ""
"""Controller the ``squall`` client verbs talk to (like ``wsk --apihost``); empty: ``APIHOST`` of the property file,
else ``CLIENT_FALLBACK_APIHOST``."""

CLIENT_FALLBACK_APIHOST = "http://127.0.0.1:3233"
"""The controller when no flag, setting or property file names one: a local ``squall standalone``."""

CLIENT_AUTH = ""
"""``uuid:key`` the client verbs authenticate with (like ``wsk --auth``); empty: ``AUTH`` of the property file, else
no credentials."""

CLIENT_CONFIG_FILE = "~/.wskprops"
"""wsk's property file (``KEY=VALUE`` lines), read by the client verbs and written by ``squall property set``."""

RUNTIMES_MANIFEST = ""
"""Path of the runtimes manifest; empty means the one shipped in runtimes/manifest.json."""

ADMIN_OPERATOR = "admin"
"""User name of the operator account of the admin pages."""

ADMIN_OPERATOR_PASSWORD_HASH = ""
"""werkzeug hash of the operator's password (``squall admin operator hash-password``); empty: no operator login."""

ADMIN_SECRET_KEY = ""
"""Signs admin session cookies; empty means a random key generated once and kept in the subjects database,
shared by every controller that uses it."""

ADMIN_COOKIE_SECURE = False
"""Send the admin session cookie over HTTPS only; turn on when the controller sits behind TLS."""

ADMIN_SESSION_HOURS = 8.0
"""How long an admin login lasts."""

ADMIN_LOGIN_ATTEMPTS_PER_MINUTE = 10
"""Admin-page login attempts one client address may make per minute (429 after): slows down key guessing."""

ADMIN_FLOWER_URL = "http://127.0.0.1:5555"
"""Where the admin pages link to Flower; empty hides the links."""

FLOWER_HOST = "127.0.0.1"
FLOWER_PORT = 5555
"""Address and port ``squall flower`` listens on."""

FLOWER_BASIC_AUTH = ""
"""``user:password`` Flower asks for; ``squall flower`` refuses to start without it."""

METRICS_TOKEN = ""
"""Bearer token a Prometheus scrape of ``/metrics`` (controller and invokers) must present; empty: no metrics are
served (they name namespaces, so they are never public)."""

METRICS_INVOKER_HOST = "127.0.0.1"
METRICS_INVOKER_PORT = 0
"""Address and port an invoker serves ``/metrics`` on; port 0: none (several invokers on one host each need their
own port)."""

LOG_FORMAT = "text"
"""How every process writes its log lines: ``text`` (for a terminal) or ``json`` (one object a line)."""

LIMIT_MIN_TIMEOUT_MS = 100
LIMIT_MAX_TIMEOUT_MS = 300_000
LIMIT_DEFAULT_TIMEOUT_MS = 60_000
LIMIT_MIN_MEMORY_MB = 128
LIMIT_MAX_MEMORY_MB = 512
LIMIT_DEFAULT_MEMORY_MB = 256
LIMIT_MIN_LOGS_MB = 0
LIMIT_MAX_LOGS_MB = 10
LIMIT_DEFAULT_LOGS_MB = 10
LIMIT_MIN_CONCURRENCY = 1
LIMIT_MAX_CONCURRENCY = 500
LIMIT_DEFAULT_CONCURRENCY = 1
"""Action limit ranges and defaults, OpenWhisk's
(https://github.com/apache/openwhisk/blob/master/docs/reference.md#system-limits). Concurrency above 1 is allowed
only for kinds whose manifest entry says ``"concurrent": true`` (OpenWhisk's intra-container concurrency)."""

LIMIT_PAYLOAD_BYTES = 1_048_576
"""Largest invoke payload and result (1 MB)."""

LIMIT_EXEC_BYTES = 48 * 1_048_576
"""Largest action code (48 MB); a zip counts by its decoded bytes (its base64 text is a third longer)."""

LIMIT_CODE_INLINE_BYTES = 1_048_576
"""Action code longer than this (characters of its text or base64) is stored beside its document: a CouchDB
attachment, a blob row in SQLite (docs/production.md, "Large action code"). 0 stores all code so."""

LIMIT_PARAMETERS_BYTES = 1_048_576
"""Largest parameters or annotations of one entity (1 MB)."""

LIMIT_SEQUENCE_MAX_LENGTH = 50
"""Most atomic actions a sequence may hold once nested sequences are inlined; a conductor composition may run
as many components and twice as many plus one conductor steps (OpenWhisk ``actions.sequence.maxLength``)."""

LIMIT_INVOCATIONS_PER_MINUTE = 60
LIMIT_CONCURRENT_INVOCATIONS = 30
LIMIT_FIRES_PER_MINUTE = 60
"""Namespace throttles, OpenWhisk's defaults."""
