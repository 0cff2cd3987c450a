"""The comparison core with hand-made inspect dicts (no engine)."""

from __future__ import annotations

import copy

from gitdeploy.heal.compare import config_differences, tampered_paths
from gitdeploy.live.model import FileChange
from gitdeploy.spec.identity import Desired, definition_of, hash_definition
from gitdeploy.spec.model import ConfigFile, HealthCheck, Port, Service, Volume

IMG = "sha256:" + "a" * 64
SERVICE = Service(path="web", image="img:1", command=("sleep", "1"), environment=(("LEVEL", "info"),),
                  ports=(Port(80, 8080, "127.0.0.1"),), volumes=(Volume("data", "/data"),),
                  configs=(ConfigFile("app.conf", "/etc/app/app.conf", "d" * 64),), init=True,
                  drift_ignore=("/tmp/cache",))
DEF = definition_of(SERVICE, IMG, {})
D = Desired(SERVICE, IMG, DEF, hash_definition(DEF))
IMAGE = {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": {"vendor": "x"}}
INFO = {
    "Image": IMG,
    "Config": {"Env": ["LEVEL=info", "PATH=/bin", "GITDEPLOY_REPLICA=1"], "Cmd": ["sleep", "1"], "Entrypoint": None,
               "User": "", "WorkingDir": "", "StopTimeout": 10, "Volumes": None,
               "Labels": {"vendor": "x", "io.gitdeploy.definition": D.definition_json()}},
    "HostConfig": {"Init": True, "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
                   "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
                   "Memory": 0, "NanoCpus": 0, "PidsLimit": None, "Privileged": False, "CapAdd": None,
                   "NetworkMode": "default", "IpcMode": "private"},
    "Mounts": [
        {"Type": "volume", "Name": "sys.production.data", "Destination": "/data", "RW": True},
        {"Type": "bind", "Source": "/x/files/" + "d" * 64, "Destination": "/etc/app/app.conf", "RW": False},
    ],
}


def diffs(info, replica=1):
    return config_differences(D, replica, info, IMAGE, "sys", "production", lambda _: None)


def test_a_matching_container_has_no_differences():
    assert diffs(INFO) == (None, [])


def test_each_setting_is_named_with_expected_and_found():
    info = copy.deepcopy(INFO)
    info["Image"] = "sha256:" + "b" * 64
    info["Config"]["Env"] = ["LEVEL=debug", "PATH=/bin", "GITDEPLOY_REPLICA=2", "EXTRA=1"]
    info["HostConfig"] |= {"Memory": 64 << 20, "NanoCpus": 500_000_000, "Privileged": True,
                           "RestartPolicy": {"Name": "no"}, "PortBindings": {}}
    info["Mounts"][0]["RW"] = False
    image, fields = diffs(info)
    assert image == ("image", f"img:1 ({IMG[:19]})", "sha256:bbbbbbbbbbbb")
    got = {f: (want, have) for f, want, have in fields}
    assert got["environment.LEVEL"] == ("info", "debug")
    assert got["environment.EXTRA"] == ("(unset)", "1")
    assert got["environment.GITDEPLOY_REPLICA"] == ("1", "2")  # replica 1 is created saying 1
    assert got["resources.memory"] == ("(unset)", "67108864 (64 MiB)")
    assert got["resources.cpus"] == ("(unset)", "0.5")
    assert got["privileged"] == ("(none)", "true")
    assert got["restart"] == ("unless-stopped", "no")
    assert got["ports"] == ('["127.0.0.1:8080->80/tcp"]', "(none)")
    assert got["mounts./data"] == ("volume sys.production.data rw", "volume sys.production.data ro")


def test_a_changed_config_file_on_the_host_is_drift():
    _, fields = config_differences(D, 1, INFO, IMAGE, "sys", "production", lambda _: "e" * 64)
    assert fields == [("mounts./etc/app/app.conf", "contents sha256 dddddddddddd",
                       "contents sha256 eeeeeeeeeeee (the file on the host was changed)")]


def test_tampering_skips_what_the_engine_and_the_spec_explain():
    changes = [FileChange(p, k) for p, k in [
        ("/etc", 0), ("/etc/app", 1), ("/etc/app/app.conf", 1), ("/sbin", 1), ("/sbin/docker-init", 1),
        ("/data", 1), ("/data/x", 1), ("/tmp", 0), ("/tmp/cache", 1), ("/tmp/cache/y", 1),
        ("/etc/passwd", 0), ("/sbin/evil", 1), ("/etc/app", 2)]]
    assert tampered_paths(D, INFO, changes) == ["D /etc/app", "C /etc/passwd", "A /sbin/evil"]
    info = copy.deepcopy(INFO)
    info["HostConfig"]["Init"] = False
    assert "A /sbin/docker-init" in tampered_paths(D, info, changes)


def _desired(**changes):
    s = Service(**{**SERVICE.__dict__, **changes})
    definition = definition_of(s, IMG, {})
    return Desired(s, IMG, definition, hash_definition(definition))


def test_what_the_engine_takes_from_the_image_is_expected():
    # `user: ""` and a health check leaving fields at 0 get the image's values at create
    d = _desired(user="", healthcheck=HealthCheck(("CMD", "true"), interval=2, retries=0))
    image = IMAGE | {"User": "app", "Healthcheck": {"Test": ["CMD", "false"], "Interval": 9, "Retries": 4,
                                                    "StartPeriod": 30_000_000_000}}
    info = copy.deepcopy(INFO)
    info["Config"] |= {"User": "app", "Labels": {"vendor": "x", "io.gitdeploy.definition": d.definition_json()},
                       "Healthcheck": {"Test": ["CMD", "true"], "Interval": 2_000_000_000, "Timeout": 3_000_000_000,
                                       "Retries": 4, "StartPeriod": 30_000_000_000}}
    assert config_differences(d, 1, info, image, "sys", "production") == (None, [])
    info["Config"]["Healthcheck"]["Retries"] = 0
    _, fields = config_differences(d, 1, info, image, "sys", "production")
    assert [f for f, _, _ in fields] == ["healthcheck"]


def test_the_replica_variable_is_the_replicas_own_index():
    info = copy.deepcopy(INFO)
    info["Config"]["Env"] = ["LEVEL=info", "PATH=/bin"]
    assert diffs(info)[1] == [("environment.GITDEPLOY_REPLICA", "1", "(unset)")]
    # a spec that sets the variable itself gets the index all the same (the engine edge overrides it)
    d = _desired(environment=(("LEVEL", "info"), ("GITDEPLOY_REPLICA", "x")))
    info["Config"]["Env"] = ["LEVEL=info", "PATH=/bin", "GITDEPLOY_REPLICA=2"]
    info["Config"]["Labels"]["io.gitdeploy.definition"] = d.definition_json()
    assert config_differences(d, 2, info, IMAGE, "sys", "production") == (None, [])
