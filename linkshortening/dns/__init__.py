"""DNS: query engine, reply reader, lookups, RFC 2136 updates, Route53; imports only `common`."""
