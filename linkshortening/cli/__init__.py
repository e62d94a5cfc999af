"""`lsctl`: the dispatcher and the core's own commands (records, cert); may import any subject."""
