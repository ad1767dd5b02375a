"""Who calls (`authentication`, from credentials) and what they may do (`authorization`: principals and
privileges on process instances)."""
