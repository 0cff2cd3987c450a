"""A base image that needs no registry: Debian's static busybox imported as an image.

Used by `gitdeploy init`/`demo` examples and by the tests. Built once per engine, then reused.
"""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

from gitdeploy.errors import GitdeployError
from gitdeploy.live import apierr
from gitdeploy.live.api import LightClient, adopt

BASE_IMAGE = "gitdeploy/busybox:1"
BUSYBOX = Path("/bin/busybox")
APPLETS = (
    "sh", "ash", "sleep", "httpd", "wget", "cat", "echo", "ls", "touch", "rm", "mkdir", "env",
    "true", "false", "kill", "ps", "grep", "sed", "date", "id", "nc", "hostname", "test", "[",
    "printf", "head", "tail", "chmod", "cp", "mv", "tr", "wc", "awk", "sort", "uname", "nslookup",
    "timeout", "vi", "seq", "expr",
)


def _rootfs_tar() -> bytes:
    if not BUSYBOX.is_file():
        raise GitdeployError(
            f"{BUSYBOX} is missing: it is the offline base image",
            "install Debian's busybox-static (the set-up script does: bash scripts/setup.sh deps)",
        )
    buf = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "etc", "tmp", "www", "var", "run", "root"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            info.mtime = now
            tar.addfile(info)
        data = BUSYBOX.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode, info.mtime = len(data), 0o755, now
        tar.addfile(info, io.BytesIO(data))
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname, link.mode, link.mtime = tarfile.SYMTYPE, "busybox", 0o777, now
            tar.addfile(link)
        for name, text in (
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
            ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
            ("www/index.html", "<h1>hello from gitdeploy</h1>\n"),
        ):
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(raw), 0o644, now
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def ensure_base_image(client: LightClient, tag: str = BASE_IMAGE) -> str:
    """The image ID of the busybox base image, importing it first if the engine lacks it."""
    client = adopt(client)
    try:
        return client.api.inspect_image(tag)["Id"]  # the light client: no SDK when the image is there
    except apierr.ImageNotFound:
        pass
    repo, _, version = tag.partition(":")
    api = client.api
    api.import_image_from_data(
        _rootfs_tar(), repository=repo, tag=version or "latest",
        changes=['ENV PATH=/bin', 'CMD ["sh"]'],
    )
    return client.api.inspect_image(tag)["Id"]
