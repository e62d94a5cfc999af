"""The renewer fanned out: a shard plan of the due domains (plan), one shard's share of a run
(shards), per-zone locks and journals so shards run side by side (zone_state), their merged
report (report), and the Step Functions Lambda handlers (handlers)."""
