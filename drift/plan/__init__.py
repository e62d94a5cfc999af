"""`lsctl plan` / `lsctl apply`: declared-vs-live differences as changes (octoDNS style), and
their application, for the zones and Twilio settings lsctl writes."""
