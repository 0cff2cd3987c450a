"""The Swarm engine's building blocks: one spec on a cluster of Docker Engines.

- `names`: the names of services, networks, configs and secrets (pure);
- `servicespec`: a `Desired` as an Engine API ServiceSpec, pinned by digest (pure);
- `services`: creating and updating services from whole specs;
- `compare`: a live service's spec against the one sent, field by field (drift; pure);
- `registry`: image digests from the registry, and pushing images tagged by content;
- `images`: `resolve()`'s Images for a cluster: every image a pinned registry reference;
- `objects`: configs and secrets as Swarm objects named by content, never edited;
- `tasks`: following a service's tasks until all run at the target spec;
- `nodes`: the cluster's nodes, and where a down or drained node's tasks went;
- `lock`: the deploy lock, kept in the cluster so it holds across hosts.
"""
