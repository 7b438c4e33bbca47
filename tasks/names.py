"""Task names: the wire contract between controllers and invokers. Renaming one breaks mixed versions."""

INVOKE = "squall.invoke"
"""Run one activation. kwargs: ``ActivationMessage.to_dict()``; result: the activation's API document."""

STORE_RECORD = "squall.store_record"
"""Store an activation record the invoker could not store (CouchDB down); retried until it lands.
kwargs: ``doc`` (the record document)."""

FIRE_ALARM = "squall.fire_alarm"
"""Fire one claimed alarm through the API as the trigger's owner. kwargs: ``trigger`` (``ns/name``),
``auth_key``, ``payload``, ``due`` (epoch ms of the claimed slot), ``delete_after_fire``."""

COMPOSITION_STEP = "squall.composition_step"
"""One step of a sequence or conductor composition (``app.core.compositions``): start it, or go on after a
component finished. kwargs: ``app.core.services.compositions.start_event`` / ``completed_event``."""

