"""Twilio Link Shortening on the official SDK: client, models, errors; imports only `common`."""
