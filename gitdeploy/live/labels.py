"""The labels every container, network and volume gitdeploy creates carries.

Analysis finds a system's objects by these labels alone, so an unlabeled container is never
mistaken for one of ours. Labels never carry secret values, only keyed hashes of them.
"""

PREFIX = "io.gitdeploy."
SYSTEM = PREFIX + "system"  # the system name (spec `system:`)
ENV = PREFIX + "env"  # the environment deployed to ("production", ...)
SERVICE = PREFIX + "service"  # the service path ("storefront/web")
REPLICA = PREFIX + "replica"  # replica index, 1-based
HASH = PREFIX + "hash"  # definition hash (sha256 hex)
COMMIT = PREFIX + "commit"  # the spec commit the container was created from ("" = worktree)
DEFINITION = PREFIX + "definition"  # canonical JSON of the definition (secret-free) for field diffs
MANAGED = PREFIX + "managed"  # "true" on networks and volumes gitdeploy created
DEPENDS = PREFIX + "depends"  # comma-separated service paths this service depends on (removal order)
