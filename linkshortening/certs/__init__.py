"""Keys, the TlsCert bundle and Twilio's certificate preflight; imports only `common`."""
