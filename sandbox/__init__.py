"""Local stand-ins for the real services: Pebble, BIND 9, moto server, the Twilio emulator."""
