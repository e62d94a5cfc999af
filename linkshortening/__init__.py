"""lsctl's shared core: stack config, Twilio targets, desired records, Twilio and DNS clients."""
