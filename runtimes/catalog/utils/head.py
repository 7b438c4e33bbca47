"""/whisk.system/utils/head: the first ``num`` (default 1) of ``lines``."""


def main(args):
    lines = args.get("lines") or []
    num = args.get("num") or 1
    head = lines[: int(num)]
    print(f"head: first {num} of {len(lines)} lines")
    return {"lines": head, "num": num}
