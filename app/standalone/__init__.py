"""``squall standalone``: the whole platform in one process, with embedded defaults (sqlite store, in-process
dispatcher, Docker or local sandboxed processes). The only package allowed to import both the controller and
the workers; nothing but the CLI imports it (an import-linter contract)."""
