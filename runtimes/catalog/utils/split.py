"""/whisk.system/utils/split: splits ``payload`` at ``separator`` (default: line ends) into ``lines``."""

import re


def main(args):
    payload = args.get("payload")
    payload = "" if payload is None else str(payload)
    separator = args.get("separator")
    lines = payload.split(separator) if separator else re.split(r"\r?\n", payload)
    return {"lines": lines, "payload": payload}
