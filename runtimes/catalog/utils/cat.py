"""/whisk.system/utils/cat: joins ``lines`` into ``payload``, one per line (like Unix cat)."""


def _text(value):
    # JavaScript's Array.join: null becomes "", booleans are lower case, whole floats lose ".0".
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def main(args):
    lines = args.get("lines") or []
    result = {"lines": lines, "payload": "\n".join(_text(line) for line in lines)}
    print("cat: returning", result)
    return result
