"""Squall's one exception tree. Catch ``PlatformError`` to catch anything Squall raises on purpose.

* PlatformError
  x Invalid                 the request is malformed or breaks a rule (400)
    - PayloadTooLarge       a body, code or parameters over their size limit (413)
  x Unauthorized            no or bad credentials (401)
  x Forbidden               authenticated, but not allowed (403)
  x NotFound                the entity does not exist (404)
  x Conflict                exists already, or changed under us (409)
  x Throttled               a namespace throttle was hit (429)
  x Unavailable             no invoker or service can take the work now (503)
  x StoreError              the document store failed (500)
    - StoreUnavailable      ... because it cannot be reached now; also an Unavailable (503)
  x ContainerError          an action container could not be provided
    - ContainerStartupError
      · RuntimeStartupError     the platform's fault (image missing, Docker down)
      · UserImageStartupError   the user's fault (a blackbox image that cannot start)
  x ActionError             the action ran and misbehaved
    - ActionTimeout
    - ActionResultError

Errors carry their data as attributes; HTTP status codes live in the controller, not here.
"""

from __future__ import annotations


class PlatformError(Exception):
    """Root of every error Squall raises on purpose."""

    message: str = "There was an internal server error."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class Invalid(PlatformError):
    message = "The request content was malformed."


class PayloadTooLarge(Invalid):
    def __init__(self, size: int, limit: int, message: str | None = None) -> None:
        self.size = size
        self.limit = limit
        super().__init__(message or f"Request larger than allowed: {size} > {limit} bytes.")


class Unauthorized(PlatformError):
    message = "The supplied authentication is invalid"


class Forbidden(PlatformError):
    message = "The supplied authentication is not authorized to access this resource."


class NotFound(PlatformError):
    message = "The requested resource does not exist."


class Conflict(PlatformError):
    message = "Concurrent modification to resource detected."


class Throttled(PlatformError):
    message = "Too many requests in the last minute."
    reason = "requests"
    """Which throttle: ``invocations``, ``fires``, ... (the controller's metrics count 429s by it and by
    ``namespace``, the namespace throttled, empty for a throttle of something else)."""
    namespace = ""
    retry_after_s: int | None = None
    """When known, the seconds until the throttle lets the caller in again (the answer's ``Retry-After``)."""

    def __init__(self, message: str | None = None, *, reason: str | None = None, namespace: str = "",
                 retry_after_s: int | None = None) -> None:
        super().__init__(message)
        if reason:
            self.reason = reason
        self.namespace = namespace
        self.retry_after_s = retry_after_s


class Unavailable(PlatformError):
    message = "The server is currently unavailable (because it is overloaded or down for maintenance)."
    retry_after_s: int | None = None
    """When set, the seconds a caller should wait before trying again (the answer's ``Retry-After``)."""


class StoreError(PlatformError):
    message = "There was an internal server error."


class StoreUnavailable(StoreError, Unavailable):
    """The store cannot be reached now (connection refused or reset, a timeout, a 5xx answer): nothing is wrong
    with the request, so it is a 503 to try again shortly, and callers that catch ``StoreError`` still catch it.

    ``cause`` says what failed, for the operator's log; callers are only told the server is unavailable.
    """

    message = "The database is currently unavailable; try again shortly."
    retry_after_s = 5

    def __init__(self, cause: str) -> None:
        super().__init__()
        self.cause = cause
        self.args = (cause,)  # what str() and repr() show: the cause, for logs and task retries


class ContainerError(PlatformError):
    message = "Failed to provision resources to run the action."


class ContainerStartupError(ContainerError):
    pass


class RuntimeStartupError(ContainerStartupError):
    """The platform could not start a container (its image is missing, Docker is down)."""


class UserImageStartupError(ContainerStartupError):
    """A user's (blackbox) image could not be started."""


class ActionError(PlatformError):
    message = "The action did not produce a valid response."


class ActionTimeout(ActionError):
    def __init__(self, timeout_ms: int, during_init: bool = False) -> None:
        self.timeout_ms = timeout_ms
        self.during_init = during_init
        where = " during initialization" if during_init else ""
        super().__init__(f"The action exceeded its time limits of {timeout_ms} milliseconds{where}.")


class ActionResultError(ActionError):
    pass
