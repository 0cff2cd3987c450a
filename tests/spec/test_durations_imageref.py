"""Durations and image references on their own."""

from __future__ import annotations

import pytest

from gitdeploy.spec.durations import format_duration, parse_duration
from gitdeploy.spec.imageref import image_problem


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("10s", 10.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("2h3m4s", 7384.0),
        ("250us", 0.00025),
        (5, 5.0),
        (2.5, 2.5),
        ("10", 10.0),
        ("0s", 0.0),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1x", "s", "", "-1s", True, None, "1s2", -3, "1 s", [1]])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration():
    assert [format_duration(s) for s in (90, 0.5, 3600, 3661, 1.5, 0)] == [
        "1m30s",
        "500ms",
        "1h",
        "1h1m1s",
        "1.5s",
        "0s",
    ]


@pytest.mark.parametrize(
    "ref",
    [
        "nginx",
        "nginx:1.27",
        "library/nginx:latest",
        "ghcr.io/acme/web:1.2",
        "registry:5000/x:latest",
        "localhost:5000/a/b@sha256:" + "a" * 64,
        "a__b/c-d.e:1.0_X",
        "[::1]:5000/x",
    ],
)
def test_valid_image_references(ref):
    assert image_problem(ref) is None


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("Nginx", "invalid image reference 'Nginx': the repository name must be lowercase"),
        (
            "ghcr.io/Acme/web",
            "invalid image reference 'ghcr.io/Acme/web': the repository name must be lowercase",
        ),
        ("a:b:c", "invalid image reference 'a:b:c'"),
        ("nginx:", "invalid image reference 'nginx:'"),
        ("-x", "invalid image reference '-x'"),
        ("a//b", "invalid image reference 'a//b'"),
        ("x@sha256:abc", "invalid image reference 'x@sha256:abc'"),
        ("", "the image reference is empty"),
    ],
)
def test_invalid_image_references(ref, message):
    problem = image_problem(ref)
    assert problem is not None and problem[0] == message
