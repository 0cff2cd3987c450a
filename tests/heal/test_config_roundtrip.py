"""The builder, the engine and the comparison agree: a container created from `config_for`'s body
and read back by `inspect` shows no drift (property test on the real engine)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from types import MappingProxyType

import docker.errors
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gitdeploy.heal.compare import config_differences, file_sha256
from gitdeploy.heal.detect import unpublished
from gitdeploy.live import labels
from gitdeploy.live.container_config import REPLICA_ENV, network_name
from gitdeploy.live.engine import Engine
from gitdeploy.spec.identity import Desired, definition_of, hash_definition
from gitdeploy.spec.model import ConfigFile, Port, SecretRef, Service, Spec, Volume
from gitdeploy.spec.model import HealthCheck as Check

pytestmark = pytest.mark.docker

ENV = "production"
# An image that brings its own environment, labels, anonymous volume, working dir, user, command
# and health check, so what the engine merges from the image is compared too.
DOCKERFILE = """FROM gitdeploy/busybox:1
ENV PATH=/bin LEVEL=image
LABEL vendor=gitdeploy-tests
VOLUME /cache
WORKDIR /srv
USER 0
CMD ["sleep", "3600"]
HEALTHCHECK --interval=7s CMD true
"""

word = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
value = st.text("abcXYZ0189 _-./:=", max_size=10)
seconds = st.sampled_from([0.0, 0.5, 1.0, 2.5, 10.0, 61.0])


@st.composite
def services(draw) -> tuple[Service, dict[str, bytes], dict[str, bytes]]:
    """A service with every setting the builder sends, plus its config files and secret values."""
    files = draw(st.dictionaries(word, st.binary(max_size=16), max_size=2))
    secrets = draw(st.dictionaries(word, st.binary(min_size=1, max_size=16), max_size=2))
    ports = draw(st.lists(st.tuples(st.integers(1, 9000), st.booleans(), st.sampled_from(["tcp", "udp"])),
                          max_size=3, unique_by=lambda p: (p[0], p[2])))
    run = draw(st.sampled_from([
        {}, {"command": ("sleep", "3600")}, {"entrypoint": ("sleep",), "command": ("3600",)},
        {"entrypoint": ("sh", "-c", "exec sleep 3600")}, {"command": ()},
    ]))
    s = Service(
        path=draw(st.sampled_from(["web", "shop/api"])),
        image="roundtrip",
        **run,
        environment=tuple(draw(st.dictionaries(word.map(str.upper), value, max_size=3)).items()),
        ports=tuple(Port(c, 20000 + c if pub else None, draw(st.sampled_from(["", "127.0.0.1"])), proto)
                    for c, pub, proto in ports),
        volumes=tuple(Volume(n, f"/var/lib/{n}", ro)
                      for n, ro in draw(st.dictionaries(word, st.booleans(), max_size=2)).items()),
        configs=tuple(ConfigFile(f"conf/{n}", f"/etc/app/{n}", hashlib.sha256(b).hexdigest())
                      for n, b in files.items()),
        secrets=tuple(SecretRef(n, f"/run/secrets/{n}") for n in secrets),
        healthcheck=draw(st.one_of(st.none(), st.builds(
            Check, st.sampled_from([("CMD", "true"), ("CMD-SHELL", "exit 0"), ("NONE",)]),
            seconds.filter(bool), seconds.filter(bool), st.integers(0, 5), seconds))),
        labels=tuple(draw(st.dictionaries(word.map(lambda w: f"com.example.{w}"), value, max_size=2)).items()),
        restart=draw(st.sampled_from(["no", "always", "unless-stopped", "on-failure", "on-failure:3"])),
        init=draw(st.one_of(st.none(), st.booleans())),
        user=draw(st.sampled_from([None, "", "0", "65534"])),
        working_dir=draw(st.sampled_from([None, "/", "/work"])),
        stop_grace_period=draw(seconds),
    )
    return s, {f"conf/{n}": b for n, b in files.items()}, secrets


@pytest.fixture(scope="module")
def image_id(docker_client, base_image):
    image, _ = docker_client.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), rm=True,
                                          labels={"io.gitdeploy.tests": "roundtrip"})
    yield image.id
    try:
        docker_client.images.remove(image.id, force=True)
    except docker.errors.APIError:
        pass  # still used by a container of a test running beside this one


# No shrinking: on the real engine it would take minutes; the failing example is shown as found.
@settings(max_examples=8, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(generated=services(), image=st.sampled_from(["base", "built"]), replica=st.integers(1, 3),
       publish=st.booleans())
def test_a_created_container_reads_back_without_drift(
    docker_client, base_image, image_id, system_name, tmp_path, generated, image, replica, publish,
):
    s, files, secret_values = generated
    if image == "base":  # the base image has no command of its own
        run = {} if s.command or s.entrypoint else {"command": ("sleep", "3600")}
        s = Service(**{**s.__dict__, **run, "image": base_image})
    iid = image_id if image == "built" else docker_client.images.get(base_image).id
    fingerprints = {n: hashlib.sha256(b"key" + v).hexdigest() for n, v in secret_values.items()}
    definition = definition_of(s, iid, fingerprints)
    d = Desired(s, iid, definition, hash_definition(definition),
                tuple((fingerprints[n], v) for n, v in secret_values.items()))
    spec = Spec(system_name, (s,), files=MappingProxyType(files))
    engine = Engine(docker_client, Path(tmp_path))
    aliases = (s.path.replace("/", "-"), s.name)
    cid = engine.create(d, spec, ENV, replica, "c0ffee", aliases, publish=publish)
    try:
        info = docker_client.api.inspect_container(cid)
        img = docker_client.api.inspect_image(iid)["Config"]
        assert config_differences(d, replica, info, img, system_name, ENV, file_sha256) == (None, [])
        env = dict(e.partition("=")[::2] for e in info["Config"]["Env"])
        assert env[REPLICA_ENV] == str(replica) == info["Config"]["Labels"][labels.REPLICA]
        missing = unpublished(info, network_name(system_name, ENV), aliases)
        assert (missing == "") is publish, missing
    finally:
        docker_client.api.remove_container(cid, force=True, v=True)
