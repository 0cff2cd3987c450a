"""The engine's floor: create + start 50 containers with raw SDK calls at several client
concurrencies (2, 4, 8, 16, 64 threads), twice. Shows that dockerd, not the client, sets the pace.

    .venv/bin/python bench/engine_floor.py
"""

import time
from concurrent.futures import ThreadPoolExecutor

import docker
import docker.errors

c = docker.from_env(timeout=300)
api = c.api


def run(threads: int, tag: str) -> float:
    net = f"floor{tag}"
    api.create_network(net)

    def up(i: int) -> None:
        cid = api.create_container(
            "gitdeploy/busybox:1", ["sleep", "3600"], name=f"floor{tag}_{i}", labels={"bench.floor": tag},
            host_config=api.create_host_config(init=True),
            networking_config=api.create_networking_config({net: api.create_endpoint_config(aliases=[f"s{i}"])}))
        api.start(cid)

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(up, range(50)))
    took = time.perf_counter() - start
    for x in c.containers.list(all=True, filters={"label": f"bench.floor={tag}"}):
        x.remove(force=True)
    for _ in range(50):
        try:
            api.remove_network(net)
            break
        except docker.errors.APIError:
            time.sleep(0.1)
    return took


if __name__ == "__main__":
    for rep in range(2):
        for threads in (2, 4, 8, 16, 64):
            print(f"run {rep + 1}, {threads:2} threads: {run(threads, f'{rep}x{threads}'):.2f} s", flush=True)
