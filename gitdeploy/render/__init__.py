"""Every piece of wording: plans, results, drift, PR comments and hook lines (pure; golden-tested)."""
