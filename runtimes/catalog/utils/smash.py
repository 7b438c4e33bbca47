"""/whisk.system/utils/smash: nests every other parameter under the one named by ``$fieldName``."""


def main(args):
    parent = args.get("$fieldName")
    if not isinstance(parent, str):
        return {"error": "Expected an argument '$fieldName' of type 'string'."}
    rest = {key: value for key, value in args.items() if key != "$fieldName"}
    return {parent: rest}
