"""Evidence checks of a bundle: objects present and intact, GX results bound, SBOMs valid."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aitrace.errors import AitraceError
from aitrace.verify._state import _member_digest, _State
from aitrace.verify.checks import Checks, abbrev

if TYPE_CHECKING:
    from aitrace.bundle.read import OpenedBundle
    from aitrace.record.models import Step


SBOM_MEDIA_TYPE = "application/vnd.cyclonedx+json"



@dataclass
class _SbomValidator:
    validate: Callable[[str], Any] | None = None


_SBOM = _SbomValidator()


def sbom_schema_error(text: str) -> str | None:
    """The first CycloneDX 1.6 strict-schema error of a JSON document, or None when valid."""
    if _SBOM.validate is None:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator

        _SBOM.validate = JsonStrictValidator(SchemaVersion.V1_6).validate_str
    err = _SBOM.validate(text)
    if err is None:
        return None
    inner = getattr(err, "data", None)
    path = "/".join(str(p) for p in getattr(inner, "absolute_path", ())) or "$"
    return f"at {path}: {getattr(inner, 'message', str(err))}"


def _check_evidence(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.format import SBOM_MEMBER, object_member, step_member
    from aitrace.bundle.release import release_sbom_ref
    from aitrace.record.stages import EVIDENCE_GX, EVIDENCE_SBOM

    t_obj = "Every referenced evidence object is present with its digest"
    t_gx = "Great Expectations results are bound to a dataset digest of their step"
    t_sbom = "SBOMs validate against the CycloneDX 1.6 schema"
    if not st.steps:
        for cid, title in (("evidence.objects", t_obj), ("evidence.gx-bound", t_gx),
                           ("evidence.sbom-schema", t_sbom)):
            c.skipped(cid, title, "no readable steps")
        return
    objects: list[tuple[str, str | None]] = []
    good: set[str] = set()
    referenced: set[str] = set()
    sizes: list[tuple[Step, str, int | None, str]] = []
    for s in st.steps:
        for e in s.evidence:
            sizes.append((s, e.sha256, e.size, f"{e.kind} evidence"))
        if s.environment is not None and s.environment.distributions_sha256:
            sizes.append((s, s.environment.distributions_sha256, None, "environment capture"))
    for s, sha, size, what in sizes:
        if sha in referenced:
            continue
        referenced.add(sha)
        name = object_member(sha)
        if name not in ob.archive:
            objects.append((f"step {s.seq} ({s.stage}) references {what} {abbrev(sha)}, which is "
                            f"not in the bundle (member '{name}')", step_member(s.seq)))
            continue
        try:
            actual, actual_size = _member_digest(ob, name, st)
        except AitraceError as exc:
            objects.append((exc.message, name))
            continue
        if actual != sha:
            objects.append((f"member '{name}' hashes to {abbrev(actual)}, not the digest in its "
                            "name: the evidence was altered", name))
        elif size is not None and actual_size != size:
            objects.append((f"member '{name}' is {actual_size} bytes but step {s.seq} records "
                            f"{size}", name))
        else:
            good.add(sha)
    for sha in ob.object_shas:
        if sha not in referenced:
            objects.append((f"member '{object_member(sha)}' is not referenced by any step",
                            object_member(sha)))
    c.outcome("evidence.objects", t_obj, objects, f"{len(referenced)} objects present and intact")

    gx: list[tuple[str, str | None]] = []
    n_gx = 0
    for s in st.steps:
        digests = {a.sha256 for a in (*s.materials, *s.products) if a.sha256}
        for e in s.evidence:
            if e.kind != EVIDENCE_GX:
                continue
            n_gx += 1
            label = f"step {s.seq} ({s.stage}) GX result {abbrev(e.sha256)}"
            if e.subject is None:
                gx.append((f"{label} names no dataset it checked (no subject)",
                           step_member(s.seq)))
            elif e.subject.sha256 not in digests or e.bound is not True:
                gx.append((f"{label} checked {e.subject.path} {abbrev(e.subject.sha256)}, which "
                           "is not among the step's inputs or outputs (not bound)",
                           step_member(s.seq)))
    if n_gx:
        c.outcome("evidence.gx-bound", t_gx, gx, f"{n_gx} GX result(s) bound to their data")
    else:
        c.skipped("evidence.gx-bound", t_gx, "the record holds no GX results")

    sboms: list[tuple[str, str | None]] = []
    n_sbom = 0
    for s in st.steps:
        for e in s.evidence:
            if e.kind != EVIDENCE_SBOM and e.media_type != SBOM_MEDIA_TYPE:
                continue
            if e.sha256 not in good:
                continue  # already reported as a missing or altered object
            n_sbom += 1
            name = object_member(e.sha256)
            problem = _sbom_problem(ob, name)
            if problem:
                sboms.append((f"step {s.seq} ({s.stage}) SBOM member '{name}' {problem}", name))
    expected = release_sbom_ref(st.steps)
    if SBOM_MEMBER in ob.archive:
        n_sbom += 1
        problem = _sbom_problem(ob, SBOM_MEMBER)
        if problem:
            sboms.append((f"member '{SBOM_MEMBER}' {problem}", SBOM_MEMBER))
        sbom_sha: str | None
        try:
            sbom_sha = _member_digest(ob, SBOM_MEMBER, st)[0]
        except AitraceError:
            sbom_sha = None
        if expected is None:
            sboms.append((f"member '{SBOM_MEMBER}' is present but no release step has SBOM "
                          "evidence", SBOM_MEMBER))
        elif sbom_sha is not None and sbom_sha != expected[1]:
            sboms.append((f"member '{SBOM_MEMBER}' hashes to {abbrev(sbom_sha)}, not the SBOM of "
                          f"step {expected[0].seq} ({expected[0].stage}) {abbrev(expected[1])}",
                          SBOM_MEMBER))
    elif expected is not None:
        sboms.append((f"step {expected[0].seq} ({expected[0].stage}) has SBOM evidence but the "
                      f"bundle has no '{SBOM_MEMBER}'", SBOM_MEMBER))
    if n_sbom:
        c.outcome("evidence.sbom-schema", t_sbom, sboms, f"{n_sbom} SBOM document(s) valid")
    else:
        c.skipped("evidence.sbom-schema", t_sbom, "the record holds no SBOM")


def _sbom_problem(ob: OpenedBundle, name: str) -> str | None:
    try:
        data = ob.archive.read(name, max_size=ob.archive.limits.max_json_size)
        ob_parse(ob, data, name)
        text = data.decode("utf-8")
    except (AitraceError, UnicodeDecodeError) as exc:
        return f"is not valid JSON ({getattr(exc, 'message', exc)})"
    error = sbom_schema_error(text)
    return f"is not valid CycloneDX 1.6: {error}" if error else None


def ob_parse(ob: OpenedBundle, data: bytes, name: str) -> Any:
    """Parse a member's JSON with the bundle's limits."""
    from aitrace.record.jsonio import parse_untrusted

    return parse_untrusted(data, f"{ob.label}: member '{name}'", limits=ob.archive.limits.json)




