"""Remote references are parsed once, at the edge; a bad one is refused naming its part."""

from __future__ import annotations

import pytest

from aitrace.errors import InputError
from aitrace.publish.refs import ModelRef, OciRef, parse_model, parse_oci, parse_remote

HEX = "a" * 64


@pytest.mark.parametrize(("text", "expected"), [
    ("oci://127.0.0.1:5000/models/fraud:v1", OciRef("127.0.0.1:5000", "models/fraud", "v1")),
    ("oci://registry.example.org/fraud", OciRef("registry.example.org", "fraud")),
    (f"oci://localhost:5000/a/b/c@sha256:{HEX}",
     OciRef("localhost:5000", "a/b/c", digest=f"sha256:{HEX}")),
    (f"oci://r.io/x-y.z__w:1.0_rc@sha256:{HEX}",
     OciRef("r.io", "x-y.z__w", "1.0_rc", f"sha256:{HEX}")),
    ("oci://[::1]:5000/m:t", OciRef("[::1]:5000", "m", "t")),
])
def test_oci_references_parse_and_print_back(text: str, expected: OciRef) -> None:
    ref = parse_oci(text)
    assert ref == expected
    assert str(ref) == text
    assert parse_remote(text) == ref


@pytest.mark.parametrize(("text", "part"), [
    ("oci://host", "names no repository"),
    ("oci:///repo:tag", "names no repository"),
    ("oci://bad_host!/repo:v1", "'bad_host!' is not a registry host"),
    ("oci://h/Models:v1", "'Models' is not a valid repository name"),
    ("oci://h/a//b:v1", "'a//b' is not a valid repository name"),
    ("oci://h/repo:-v1", "'-v1' is not a valid tag"),
    ("oci://h/repo:" + "t" * 129, "is not a valid tag"),
    ("oci://h/repo@sha256:ABC", "'sha256:ABC' is not a sha256 digest"),
    (f"oci://h/repo@sha512:{HEX}", "is not a sha256 digest"),
])
def test_bad_oci_references_are_refused_naming_the_part(text: str, part: str) -> None:
    with pytest.raises(InputError) as err:
        parse_oci(text)
    assert part in err.value.message
    assert err.value.hint


def test_reference_names_the_digest_first_and_refuses_neither() -> None:
    assert parse_oci(f"oci://h/r:v1@sha256:{HEX}").reference == f"sha256:{HEX}"
    assert parse_oci("oci://h/r:v1").reference == "v1"
    with pytest.raises(InputError, match="names no tag or digest"):
        _ = parse_oci("oci://h/r").reference
    assert str(parse_oci("oci://h/r:v1").at(f"sha256:{HEX}")) == f"oci://h/r:v1@sha256:{HEX}"


@pytest.mark.parametrize(("text", "expected"), [
    ("models:/fraud/3", ModelRef("fraud", version="3")),
    ("models:/fraud detector/12", ModelRef("fraud detector", version="12")),
    ("models:/fraud@champion", ModelRef("fraud", alias="champion")),
])
def test_model_references(text: str, expected: ModelRef) -> None:
    assert parse_model(text) == expected
    assert str(parse_model(text)) == text
    assert parse_remote(text) == expected


@pytest.mark.parametrize("text", ["models:/fraud", "models:/fraud/0", "models:/fraud/latest",
                                  "models:/a/b/3", "models:/fraud@", "models:/@x"])
def test_bad_model_references(text: str) -> None:
    with pytest.raises(InputError, match="is not a model version reference"):
        parse_model(text)


def test_local_paths_are_not_remote() -> None:
    for text in ("model.aitrace", "./oci/x.aitrace", "/tmp/models/x", "C:/x"):
        assert parse_remote(text) is None
