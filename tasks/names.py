"""Task names: the wire contract between controllers and invokers. Renaming one breaks mixed versions."""

INVOKE = "squall.invoke"
"""Run one activation. kwargs: ``ActivationMessage.to_dict()``; result: the activation's API document."""
