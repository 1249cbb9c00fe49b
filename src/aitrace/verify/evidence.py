"""Evidence checks of a bundle: objects present and intact, GX results bound, SBOMs valid.

Format v2 directory artifacts reference their in-toto dirHash listing as an object too
(``objects/sha256/<dirHash>``): ``evidence.objects`` requires it, ``evidence.dir-listings``
checks that each is a well-formed listing (``aitrace.record.dirhash``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aitrace.errors import AitraceError
from aitrace.record.refs import digest_label
from aitrace.verify._state import _member_digest, _State
from aitrace.verify.checks import Checks, abbrev

if TYPE_CHECKING:
    from aitrace.bundle.read import OpenedBundle
    from aitrace.evidence.interface import EvidenceSource
    from aitrace.record.models import Step


def _check_evidence(ob: OpenedBundle, c: Checks, st: _State) -> None:
    from aitrace.bundle.format import object_member, step_member
    from aitrace.evidence.registry import checked_sources
    from aitrace.record.stages import EVIDENCE_GX

    t_obj = "Every referenced evidence object is present with its digest"
    t_gx = "Great Expectations results are bound to a dataset digest of their step"
    checked = checked_sources()
    if not st.steps:
        for cid, title in (("evidence.objects", t_obj), ("evidence.gx-bound", t_gx),
                           *((s.check_id or "", s.check_title) for s in checked)):
            c.skipped(cid, title, "no readable steps")
        return
    objects: list[tuple[str, str | None]] = []
    good: set[str] = set()
    referenced: set[str] = set()
    sizes: list[tuple[Step, str, int | None, str]] = []
    listings: list[tuple[Step, str, str]] = []
    for s in st.steps:
        for e in s.evidence:
            sizes.append((s, e.sha256, e.size, f"{e.kind} evidence"))
        if s.environment is not None and s.environment.distributions_sha256:
            sizes.append((s, s.environment.distributions_sha256, None, "environment capture"))
        for a in (*s.materials, *s.products):
            if a.dirHash is not None:
                sizes.append((s, a.dirHash, None, f"the dirHash listing of {a.path}"))
                listings.append((s, a.path, a.dirHash))
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
    from aitrace.bundle.release import listing_objects

    for sha, s in listing_objects(st.steps).items():  # optional: only when carried
        name = object_member(sha)
        if sha in referenced or name not in ob.archive:
            continue
        referenced.add(sha)
        try:
            actual, _size = _member_digest(ob, name, st)
        except AitraceError as exc:
            objects.append((exc.message, name))
            continue
        if actual != sha:
            objects.append((f"member '{name}' hashes to {abbrev(actual)}, not the digest in its "
                            f"name: the listing of a folder step {s.seq} produced was altered",
                            name))
    note = st.unreadable_note(ob)
    for sha in ob.object_shas:
        if sha not in referenced:
            objects.append((f"member '{object_member(sha)}' is not referenced by any step"
                            + note, object_member(sha)))
    c.outcome("evidence.objects", t_obj, objects, f"{len(referenced)} objects present and intact")
    _check_listings(ob, c, listings, good)

    gx: list[tuple[str, str | None]] = []
    n_gx = 0
    for s in st.steps:
        digests = {a.value for a in (*s.materials, *s.products) if a.value}
        for e in s.evidence:
            if e.kind != EVIDENCE_GX:
                continue
            n_gx += 1
            label = f"step {s.seq} ({s.stage}) GX result {abbrev(e.sha256)}"
            if e.subject is None:
                gx.append((f"{label} names no dataset it checked (no subject)",
                           step_member(s.seq)))
            elif e.subject.value not in digests or e.bound is not True:
                alg = "dirHash" if e.subject.dirHash else "sha256"
                gx.append((f"{label} checked {e.subject.path} "
                           f"{digest_label(alg, e.subject.value)}, which "
                           "is not among the step's inputs or outputs (not bound)",
                           step_member(s.seq)))
    if n_gx:
        c.outcome("evidence.gx-bound", t_gx, gx, f"{n_gx} GX result(s) bound to their data")
    else:
        c.skipped("evidence.gx-bound", t_gx, "the record holds no GX results")

    for source in checked:
        _check_documents(ob, c, st, source, good)


def _check_listings(ob: OpenedBundle, c: Checks, listings: list[tuple[Step, str, str]],
                    good: set[str]) -> None:
    """Each directory's listing object parses as a dirHash listing aitrace would write."""
    from aitrace.bundle.format import object_member
    from aitrace.record.dirhash import parse_listing

    title = "Every directory's dirHash listing is well-formed"
    if not listings:
        c.skipped("evidence.dir-listings", title, "the record holds no format v2 directories")
        return
    problems: list[tuple[str, str | None]] = []
    files = 0
    for sha in sorted({sha for _s, _p, sha in listings if sha in good}):
        name = object_member(sha)
        try:
            data = ob.archive.read(name, max_size=ob.archive.limits.max_json_size)
            files += len(parse_listing(data, f"member '{name}'"))
        except AitraceError as exc:
            problems.append((exc.message, name))
    unique = len({sha for _s, _p, sha in listings})
    c.outcome("evidence.dir-listings", title, problems,
              f"{len(listings)} directory artifact(s), {unique} distinct listing(s) of "
              f"{files} file(s)")


def _check_documents(ob: OpenedBundle, c: Checks, st: _State, source: EvidenceSource,
                     good: set[str]) -> None:
    """Every intact evidence object of ``source``'s kind passes its ``validate``.

    For the ML-BOM the check also covers ``sbom.cdx.json``, which must be the release step's.
    Each distinct document (by sha256) is parsed and validated once, however many steps
    reference it; every reference to a bad one is still reported.
    """
    from aitrace.bundle.format import SBOM_MEMBER, object_member
    from aitrace.bundle.release import release_sbom_ref
    from aitrace.record.stages import EVIDENCE_SBOM

    cid, title = source.check_id or "", source.check_title
    label = "SBOM" if source.kind == EVIDENCE_SBOM else source.kind
    problems: list[tuple[str, str | None]] = []
    verdicts: dict[str, str | None] = {}  # sha256 of an intact document -> its problem
    n_docs = 0
    for s in st.steps:
        for e in s.evidence:
            if e.kind != source.kind and e.media_type != source.media_type:
                continue
            if e.sha256 not in good:
                continue  # already reported as a missing or altered object
            n_docs += 1
            name = object_member(e.sha256)
            if e.sha256 not in verdicts:
                verdicts[e.sha256] = _document_problem(ob, name, source)
            problem = verdicts[e.sha256]
            if problem:
                problems.append((f"step {s.seq} ({s.stage}) {label} member '{name}' {problem}",
                                 name))
    if source.kind == EVIDENCE_SBOM:
        expected = release_sbom_ref(st.steps)
        if SBOM_MEMBER in ob.archive:
            n_docs += 1
            sbom_sha: str | None
            try:
                sbom_sha = _member_digest(ob, SBOM_MEMBER, st)[0]
            except AitraceError:
                sbom_sha = None
            # The same bytes as a step's intact SBOM object: the same verdict.
            if sbom_sha is not None and sbom_sha in verdicts:
                problem = verdicts[sbom_sha]
            else:
                problem = _document_problem(ob, SBOM_MEMBER, source)
            if problem:
                problems.append((f"member '{SBOM_MEMBER}' {problem}", SBOM_MEMBER))
            if expected is None:
                problems.append((f"member '{SBOM_MEMBER}' is present but no release step has "
                                 "SBOM evidence", SBOM_MEMBER))
            elif sbom_sha is not None and sbom_sha != expected[1]:
                problems.append((f"member '{SBOM_MEMBER}' hashes to {abbrev(sbom_sha)}, not the "
                                 f"SBOM of step {expected[0].seq} ({expected[0].stage}) "
                                 f"{abbrev(expected[1])}", SBOM_MEMBER))
        elif expected is not None:
            problems.append((f"step {expected[0].seq} ({expected[0].stage}) has SBOM evidence "
                             f"but the bundle has no '{SBOM_MEMBER}'", SBOM_MEMBER))
    if n_docs:
        c.outcome(cid, title, problems, f"{n_docs} {label} document(s) valid")
    else:
        c.skipped(cid, title, f"the record holds no {label}")


def _document_problem(ob: OpenedBundle, name: str, source: EvidenceSource) -> str | None:
    try:
        data = ob.archive.read(name, max_size=ob.archive.limits.max_json_size)
        doc = ob_parse(ob, data, name)
    except AitraceError as exc:
        return f"is not valid JSON ({exc.message})"
    return source.validate(doc)


def ob_parse(ob: OpenedBundle, data: bytes, name: str) -> Any:
    """Parse a member's JSON with the bundle's limits."""
    from aitrace.record.jsonio import parse_untrusted

    return parse_untrusted(data, f"{ob.label}: member '{name}'", limits=ob.archive.limits.json)




