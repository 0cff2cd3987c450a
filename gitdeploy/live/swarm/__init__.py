"""The Swarm engine's building blocks: one spec on a cluster of Docker Engines.

- `names`: the names of services, networks, configs and secrets (pure);
- `servicespec`: a `Desired` as an Engine API ServiceSpec, pinned by digest (pure);
- `registry`: image digests from the registry, and pushing images tagged by content;
- `objects`: configs and secrets as Swarm objects named by content, never edited;
- `tasks`: following a service's tasks until all run at the target spec;
- `lock`: the deploy lock, kept in the cluster so it holds across hosts.
"""
