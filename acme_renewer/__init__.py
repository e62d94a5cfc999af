"""The scheduled renewal job: ACME DNS-01, PKCS#8, upload to Twilio."""
