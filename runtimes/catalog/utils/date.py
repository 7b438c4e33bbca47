"""/whisk.system/utils/date: the current date and time (ISO 8601, UTC, milliseconds, as JavaScript prints it)."""

from datetime import UTC, datetime


def main(args):
    now = datetime.now(UTC)
    text = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    print("It is now", text)
    return {"date": text}
