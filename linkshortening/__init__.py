"""lsctl's shared core, by subject; it imports none of acme_renewer, drift, sandbox, components."""
