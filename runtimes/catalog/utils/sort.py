"""/whisk.system/utils/sort: sorts ``lines`` the way JavaScript's default sort does (as strings)."""


def _text(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def main(args):
    lines = sorted(args.get("lines") or [], key=_text)
    print("sort after:", lines)
    return {"lines": lines, "length": len(lines)}
