"""The pure core: records, rules, parser, rollout. No I/O, no storage."""
