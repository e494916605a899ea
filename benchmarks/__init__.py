"""Hook-tool budget and performance benchmarks for charms.leader_config."""
