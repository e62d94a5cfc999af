"""A stateful stand-in for Twilio's Link Shortening API, for the sandbox.

It follows Twilio's published OpenAPI description (`twilio_messaging_v1.json`/`_v2.json`) and
applies the certificate checks Twilio documents with Twilio's error codes. The checks are written
here from Twilio's documents, not shared with lsctl's own preflight, so that one bug cannot hide
itself on both sides. This module imports nothing heavy: `launch` is used by the sandbox's
lifecycle, the server only runs in its own process (`python -m sandbox.twilio_emulator`).
"""
