"""A real multi-node Docker Swarm on one machine, for the tests (see TESTING.md).

Each node is its own `dockerd` (own --data-root, --exec-root, socket and pid file) started in its
own session (setsid) inside its own network namespace and UTS namespace (so `docker node ls`
shows distinct host names). The namespaces' veth pairs hang on one bridge; Debian's
`docker-registry` listens on the bridge address and every node trusts it over plain HTTP.
Node 1 runs `swarm init`, the others join, and `up()` returns once every node is Ready.

Every name (bridge, namespaces, veths) and the /24 subnet are unique per run, so two runs on one
machine do not collide. What a run creates is written to a state file under STATE_DIR first, so
`down()` can undo it even when set-up failed half-way, and a later run sweeps what a killed run
(its owner process gone) left behind.

The base image the suite uses (gitdeploy/busybox:1, imported from the host's static busybox) is
imported on node 1 and pushed to the registry; the other nodes pull it from there by digest, as
they would pull any image in production. The host's own engine is not needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import docker
import docker.errors

from gitdeploy.live.baseimage import BASE_IMAGE, ensure_base_image

STATE_DIR = Path("/run/gitdeploy-swarm-tests")
SUBNET_PREFIX = "10.99"  # runs take 10.99.X.0/24, X free on this machine
READY_TIMEOUT = 90.0  # seconds a daemon / the swarm gets to become ready
TOOLS = ("ip", "nsenter", "unshare", "iptables", "dockerd", "docker-registry")


def unavailable() -> str | None:
    """Why a cluster cannot be built here (None if it can)."""
    if os.geteuid() != 0:
        return "a multi-node swarm needs root (network namespaces, bridges, dockerd)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        hint = " (bash scripts/setup.sh deps installs docker-registry)" if "docker-registry" in missing else ""
        return f"a multi-node swarm needs {', '.join(missing)}{hint}"
    return None


@dataclass
class Node:
    index: int  # 1-based
    netns: str
    veth: str  # host side; the namespace side is eth0
    addr: str  # on the bridge subnet
    root: str  # folder holding data-root, exec-root, socket, pid file and log
    pid: int = 0

    @property
    def hostname(self) -> str:
        return f"node{self.index}"

    @property
    def sock(self) -> str:
        return f"{self.root}/docker.sock"

    @property
    def host(self) -> str:
        """The engine address (DOCKER_HOST / --docker-host / -H)."""
        return f"unix://{self.sock}"

    @property
    def pidfile(self) -> str:
        return f"{self.root}/docker.pid"

    @property
    def log(self) -> str:
        return f"{self.root}/dockerd.log"


@dataclass
class ClusterState:
    """Everything one run created; enough to tear it down from another process."""

    run: str
    owner: int  # pid of the process that built it
    bridge: str = ""
    subnet: str = ""  # "10.99.X"
    root: str = ""
    nodes: list[Node] = field(default_factory=list)
    iptables_rule: bool = False
    registry_pid: int = 0
    registry_port: int = 0  # a free port on the bridge address (Debian's package may run one on :5000)

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"

    @property
    def registry(self) -> str:
        return f"{self.gateway}:{self.registry_port}"

    def save(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = STATE_DIR / f".{self.run}.json"
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(STATE_DIR / f"{self.run}.json")

    @classmethod
    def load(cls, path: Path) -> ClusterState:
        raw = json.loads(path.read_text())
        raw["nodes"] = [Node(**n) for n in raw.get("nodes", [])]
        return cls(**raw)


class Cluster:
    """A swarm of `size` nodes plus a registry; `up()` builds it, `down()` removes every trace."""

    def __init__(self, size: int = 2) -> None:
        if size < 1:
            raise ValueError("a cluster has at least one node")
        self.size = size
        run = uuid.uuid4().hex[:6]
        self.state = ClusterState(run=run, owner=os.getpid())
        self._clients: dict[int, docker.DockerClient] = {}
        self.base_image = ""  # REGISTRY/gitdeploy/busybox:1@sha256:... once up
        self.timings: dict[str, float] = {}

    # -- what tests use ---------------------------------------------------------------------

    @property
    def nodes(self) -> list[Node]:
        return self.state.nodes

    @property
    def registry(self) -> str:
        """HOST:PORT of the registry every node can push to and pull from."""
        return self.state.registry

    def client(self, index: int = 1) -> docker.DockerClient:
        """A Docker SDK client for node `index` (1 = the manager)."""
        if index not in self._clients:
            self._clients[index] = docker.DockerClient(base_url=self.nodes[index - 1].host, timeout=60)
        return self._clients[index]

    @property
    def manager(self) -> docker.DockerClient:
        return self.client(1)

    def node_ids(self) -> dict[str, int]:
        """Swarm node ID -> node index."""
        by_name = {n.hostname: n.index for n in self.nodes}
        return {n.id: by_name[n.attrs["Description"]["Hostname"]] for n in self.manager.nodes.list()}

    def node_state(self, index: int) -> str:
        """The manager's word on node `index`: ready, down, unknown or disconnected."""
        name = self.nodes[index - 1].hostname
        for n in self.manager.api.nodes():
            if (n.get("Description") or {}).get("Hostname") == name:
                return (n.get("Status") or {}).get("State", "unknown")
        return "unknown"

    def wait_node(self, index: int, state: str, timeout: float = READY_TIMEOUT) -> None:
        """Until the manager says node `index` is `state` (Swarm marks a node down once its
        heartbeats stop: some seconds); fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while (now := self.node_state(index)) != state:
            if time.monotonic() > deadline:
                raise RuntimeError(f"node{index} is {now}, not {state}, after {timeout:.0f}s")
            time.sleep(0.3)

    def stop_node(self, index: int) -> None:
        """Stop node `index`'s dockerd (SIGTERM, then SIGKILL after 15 s): the machine is gone as
        far as the swarm can tell. Its containers stop with it. Not the manager (node 1)."""
        if index == 1:
            raise ValueError("stopping the manager would stop the swarm")
        node = self.nodes[index - 1]
        client = self._clients.pop(index, None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        pid = _pid_of(node)
        _stop(pid)
        _stop(pid, wait=15.0, kill=True)

    def start_node(self, index: int) -> None:
        """Start node `index`'s dockerd again (it rejoins the swarm by itself) and wait until the
        manager says it is ready."""
        node = self.nodes[index - 1]
        if not _alive(_pid_of(node)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(node.pidfile)
            self._start_daemon(node)
        self._wait_daemon(node)
        self.wait_node(index, "ready")

    # -- set-up ---------------------------------------------------------------------------

    def up(self) -> Cluster:
        """Build the whole cluster; on failure the caller still calls down()."""
        sweep_stale()
        t0 = time.monotonic()
        self.state.root = tempfile.mkdtemp(prefix=f"gdswarm-{self.state.run}-")
        self.state.save()
        self._network()
        self.timings["network"] = time.monotonic() - t0
        self._registry()
        for node in self.nodes:
            self._start_daemon(node)
        for node in self.nodes:
            self._wait_daemon(node)
        self.timings["daemons"] = time.monotonic() - t0
        self._form_swarm()
        self.timings["swarm"] = time.monotonic() - t0
        self._push_base_image()
        self.timings["up"] = time.monotonic() - t0
        return self

    def _network(self) -> None:
        run = self.state.run
        with _allocation_lock():
            subnet = _free_subnet()
            self.state.subnet = subnet
            self.state.bridge = f"gdsw{run}"
            self.state.save()  # before creating anything, so down() finds it
            _sh("ip", "link", "add", self.state.bridge, "type", "bridge")
            _sh("ip", "addr", "add", f"{subnet}.1/24", "dev", self.state.bridge)
        _sh("ip", "link", "set", self.state.bridge, "up")
        self.state.iptables_rule = True  # recorded first: deleting an absent rule is harmless
        self.state.save()
        _sh("iptables", "-I", "FORWARD", "-i", self.state.bridge, "-o", self.state.bridge, "-j", "ACCEPT")
        for i in range(1, self.size + 1):
            node = Node(
                index=i, netns=f"gdsw{run}-{i}", veth=f"gdsw{run}v{i}", addr=f"{subnet}.{10 + i}",
                root=os.path.join(self.state.root, f"node{i}"),
            )
            os.makedirs(node.root)
            self.state.nodes.append(node)
            self.state.save()
            _sh("ip", "netns", "add", node.netns)
            _sh("ip", "link", "add", node.veth, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
            _sh("ip", "link", "set", node.veth, "master", self.state.bridge, "up")
            ns = ("ip", "-n", node.netns)
            _sh(*ns, "addr", "add", f"{node.addr}/24", "dev", "eth0")
            _sh(*ns, "link", "set", "eth0", "up")
            _sh(*ns, "link", "set", "lo", "up")
            _sh(*ns, "route", "add", "default", "via", self.state.gateway)

    def _registry(self) -> None:
        folder = Path(self.state.root) / "registry"
        (folder / "data").mkdir(parents=True)
        with socket.socket() as probe:
            probe.bind((self.state.gateway, 0))
            self.state.registry_port = probe.getsockname()[1]
        config = folder / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: error}\n"
            f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: '{self.registry}', secret: gitdeploy-tests-{self.state.run}}}\n"
        )
        with open(folder / "registry.log", "ab") as log:
            proc = subprocess.Popen(
                ["docker-registry", "serve", str(config)], env=_env(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
        self.state.registry_pid = proc.pid
        self.state.save()
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                with _NO_PROXY.open(f"http://{self.registry}/v2/", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the registry did not start: {_tail(folder / 'registry.log')}")
            time.sleep(0.1)

    def _start_daemon(self, node: Node) -> None:
        root = node.root
        args = [
            "nsenter", f"--net=/var/run/netns/{node.netns}",
            "unshare", "--uts",
            "sh", "-c", 'hostname "$0" && exec dockerd "$@"', node.hostname,
            "--data-root", f"{root}/data", "--exec-root", f"{root}/exec",
            "-H", node.host, "--pidfile", node.pidfile,
            "--config-file", f"{root}/daemon.json",
            "--insecure-registry", self.registry,
            "--log-level", "warn",
        ]
        Path(root, "daemon.json").write_text("{}\n")
        with open(node.log, "ab") as log:
            # start_new_session: setsid, so the daemon outlives a `timeout` around pytest
            proc = subprocess.Popen(args, env=_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)
        node.pid = proc.pid  # nsenter, unshare and sh exec: this is dockerd's pid
        self.state.save()

    def _wait_daemon(self, node: Node) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if os.path.exists(node.sock):
                try:
                    self.client(node.index).ping()
                    return
                except Exception:  # noqa: BLE001 - not answering yet
                    pass
            if not _alive(node.pid) or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd of {node.hostname} did not start: {_tail(Path(node.log))}")
            time.sleep(0.2)

    def _form_swarm(self) -> None:
        first = self.nodes[0]
        self.manager.swarm.init(advertise_addr=first.addr, listen_addr=f"{first.addr}:2377")
        token = self.manager.swarm.attrs["JoinTokens"]["Worker"]
        for node in self.nodes[1:]:
            self.client(node.index).swarm.join(
                remote_addrs=[f"{first.addr}:2377"], join_token=token,
                advertise_addr=node.addr, listen_addr=f"{node.addr}:2377",
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            states = [n.attrs["Status"]["State"] for n in self.manager.nodes.list()]
            if len(states) == self.size and all(s == "ready" for s in states):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"swarm nodes not ready after {READY_TIMEOUT:.0f}s: {states}")
            time.sleep(0.2)

    def _push_base_image(self) -> None:
        api = self.manager.api
        ensure_base_image(self.manager, BASE_IMAGE)
        repo = f"{self.registry}/{BASE_IMAGE.split(':')[0]}"
        tag = BASE_IMAGE.split(":")[1]
        api.tag(BASE_IMAGE, repo, tag)
        digest = ""
        for line in api.push(repo, tag=tag, stream=True, decode=True):
            if "error" in line:
                raise RuntimeError(f"pushing the base image failed: {line['error']}")
            digest = line.get("aux", {}).get("Digest", digest)
        if not digest:
            raise RuntimeError("pushing the base image reported no digest")
        self.base_image = f"{repo}:{tag}@{digest}"

    # -- teardown -------------------------------------------------------------------------

    def down(self) -> float:
        """Remove everything up() created (also after a partial up()); returns the seconds taken."""
        t0 = time.monotonic()
        for c in self._clients.values():
            with contextlib.suppress(Exception):
                c.close()
        self._clients.clear()
        teardown(self.state)
        self.timings["down"] = time.monotonic() - t0
        return self.timings["down"]


def teardown(state: ClusterState) -> None:
    """Undo what `state` records, most dependent first; every step tolerates a missing object."""
    # Leaving first makes the daemons stop in about a second instead of ~12 s of raft time-outs;
    # all at once, because a manager that leaves after its workers waits for them.
    leaving = [threading.Thread(target=_leave, args=(n,)) for n in state.nodes if os.path.exists(n.sock)]
    for t in leaving:
        t.start()
    for t in leaving:
        t.join()
    for node in state.nodes:
        _stop(_pid_of(node))
    for node in state.nodes:
        _stop(_pid_of(node), wait=15.0, kill=True)
    if state.root:
        _kill_leftovers(state.root)  # containerd and shims of a daemon that had to be killed
        _unmount_under(state.root)
    for node in state.nodes:
        _quiet("ip", "netns", "del", node.netns)
        _quiet("ip", "link", "del", node.veth)
    if state.registry_pid:
        _stop(state.registry_pid, wait=5.0, kill=True)
    if state.iptables_rule:
        while _quiet("iptables", "-D", "FORWARD", "-i", state.bridge, "-o", state.bridge, "-j", "ACCEPT"):
            pass
    if state.bridge:
        _quiet("ip", "link", "del", state.bridge)
    if state.root:
        shutil.rmtree(state.root, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (STATE_DIR / f"{state.run}.json").unlink()


def sweep_stale() -> list[str]:
    """Tear down clusters whose building process is gone (a killed test run); returns their runs."""
    swept = []
    if not STATE_DIR.is_dir():
        return swept
    for path in STATE_DIR.glob("*.json"):
        try:
            state = ClusterState.load(path)
        except (OSError, ValueError, TypeError):
            continue
        if not _alive(state.owner):
            teardown(state)
            swept.append(state.run)
    return swept


# -- helpers ------------------------------------------------------------------------------

# Everything here stays on this machine: no proxy between the nodes, the registry and the tests.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


@contextlib.contextmanager
def _allocation_lock():
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(STATE_DIR / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _free_subnet() -> str:
    """A 10.99.X prefix that no address or route of this machine uses (call under the lock)."""
    text = "".join(
        subprocess.run(["ip", "-4", *cmd], capture_output=True, text=True, check=True).stdout
        for cmd in (["-o", "addr"], ["route"])
    )
    used = {int(x) for x in re.findall(rf"\b{re.escape(SUBNET_PREFIX)}\.(\d+)\.", text)}
    free = [x for x in range(256) if x not in used]
    if not free:
        raise RuntimeError(f"no free {SUBNET_PREFIX}.X.0/24 subnet on this machine")
    return f"{SUBNET_PREFIX}.{random.choice(free)}"


def _leave(node: Node) -> None:
    """Kill the node's containers (a task's PID 1 may ignore SIGTERM: 10 s each), then leave."""
    with contextlib.suppress(Exception):
        client = docker.DockerClient(base_url=node.host, timeout=15)
        try:
            for c in client.api.containers(all=True):
                with contextlib.suppress(docker.errors.APIError):
                    client.api.remove_container(c["Id"], force=True)
            client.swarm.leave(force=True)
        finally:
            client.close()


def _sh(*args: str) -> None:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(args)}` failed: {proc.stderr.strip()}")


def _quiet(*args: str) -> bool:
    return subprocess.run(args, capture_output=True).returncode == 0


def _pid_of(node: Node) -> int:
    try:
        return int(Path(node.pidfile).read_text().strip())
    except (OSError, ValueError):
        return node.pid


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _stop(pid: int, wait: float = 0.0, kill: bool = False) -> None:
    """SIGTERM `pid` (once), wait up to `wait` seconds, then SIGKILL if `kill`."""
    if not _alive(pid):
        return
    if wait == 0.0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        return
    deadline = time.monotonic() + wait
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if kill and _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.05)
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _kill_leftovers(root: str) -> None:
    """SIGKILL processes whose command line names `root` (only this run's own folder)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if root.encode() in cmd:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry), signal.SIGKILL)


def _unmount_under(root: str) -> None:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    points = [ln.split()[4] for ln in lines if len(ln.split()) > 4]
    for point in sorted((p for p in points if p == root or p.startswith(root + "/")), key=len, reverse=True):
        _quiet("umount", "-l", point)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
