"""Feed action of /whisk.system/alarms (``alarm``, ``interval`` and ``once``; the kind is this action's name).

The clients invoke it with ``lifecycleEvent``, ``triggerName`` (``/ns/trigger``) and ``authKey`` (the trigger
owner's ``uuid:key``); it passes the event to Squall's alarms provider API with that key, so the schedule is
the owner's and the scheduler fires the trigger as the owner.

It answers as OpenWhisk's alarms feed does (``action/alarm.js`` relaying the provider's answer): READ the schedule
(``{"config", "status"}``), every other event ``{"status": "success"}``, a failure ``{"error": ...}``; and it logs
one line saying what it did. Neither holds the key: the result and the logs are kept in the caller's activation
record.
"""

import base64
import json
import os
import sys
import urllib.error
import urllib.request
from urllib.parse import quote

EVENTS = {
    "CREATE": ("PUT", ""),
    "UPDATE": ("PUT", "?overwrite=true"),
    "READ": ("GET", ""),
    "DELETE": ("DELETE", ""),
    "PAUSE": ("POST", ""),
    "UNPAUSE": ("POST", ""),
}
FEED_KEYS = ("lifecycleEvent", "triggerName", "authKey")


def main(args):
    event = str(args.get("lifecycleEvent", "")).upper()
    if event not in EVENTS:
        return _failed(event, f"lifecycleEvent must be one of {', '.join(EVENTS)}, not '{args.get('lifecycleEvent')}'")
    parts = str(args.get("triggerName", "")).strip("/").split("/")
    if len(parts) != 2 or not all(parts):
        return _failed(event, "triggerName must look like /namespace/trigger")
    key = args.get("authKey")
    if not key or ":" not in str(key):
        return _failed(event, "authKey (uuid:key of the trigger's owner) is required")
    kind = os.environ.get("__OW_ACTION_NAME", "/alarm").rsplit("/", 1)[-1]
    method, query = EVENTS[event]
    body = None
    if method == "PUT":
        body = {k: v for k, v in args.items() if k not in FEED_KEYS}
        body["kind"] = kind
    elif method == "POST":
        body = {"status": "paused" if event == "PAUSE" else "active"}
    host = os.environ.get("__OW_API_HOST", "")
    if not host.startswith(("http://", "https://")):
        return _failed(event, f"__OW_API_HOST is not an http(s) URL: '{host}'")
    owner = (os.environ.get("__OW_NAMESPACE") or "_") if parts[0] == "_" else parts[0]  # "_": the caller's
    trigger = f"/{owner}/{parts[1]}"
    url = (f"{host.rstrip('/')}/api/v1/namespaces/{quote(parts[0], safe='')}"
           f"/alarms/{quote(parts[1], safe='')}{query}")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, method=method, data=data)  # noqa: S310 - scheme checked above
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", "Basic " + base64.b64encode(str(key).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - scheme checked above
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read()).get("error")
        except ValueError:
            message = None
        return _failed(event, message or f"the alarms provider answered {e.code}", trigger, e.code)
    except urllib.error.URLError as e:
        return _failed(event, f"cannot reach the alarms provider at {host}: {e.reason}", trigger)
    print(f"alarm: {event} of the {kind} feed for trigger {trigger}: success", flush=True)
    return answer if event == "READ" else {"status": "success"}


def _failed(event, message, trigger=None, status=None):
    """The error result, said in the logs too (as alarm.js logs the provider's answer)."""
    where = f" for trigger {trigger}" if trigger else ""
    code = f" ({status})" if status else ""
    print(f"alarm: {event or 'no lifecycleEvent'}{where} failed{code}: {message}", file=sys.stderr, flush=True)
    return {"error": message}
