"""Task names: the wire contract between controllers and invokers. Renaming one breaks mixed versions."""

INVOKE = "squall.invoke"
"""Run one activation. kwargs: ``ActivationMessage.to_dict()``; result: the activation's API document."""

STORE_RECORD = "squall.store_record"
"""Store an activation record the invoker could not store (CouchDB down); retried until it lands.
kwargs: ``doc`` (the record document)."""

STATUS = "squall_status"
"""Remote-control command (not a task) an invoker answers with its status: ``{"name", "ready", "pool"}``;
the admin pages broadcast it (``app.controller.invokers``)."""
