"""Public test doubles (scripted models, fake sandboxes) and the trace-store conformance suite."""
