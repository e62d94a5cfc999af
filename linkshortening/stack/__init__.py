"""The stack file: loading, DomainSpec, desired records, Twilio's targets; imports only `common`."""
