"""People and their enrolled faces: list, create, rename, forget, enrol, merge.

Every change is written to the audit log, as the API key (or user) that made it.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from .. import audit, gallery
from ..enrollment import EnrollmentError, enroll_photo
from ..models import KnownFace, Person
from ..privacy import forget_person
from ..uploads import clean_filename
from .base import ApiView, Pagination, UploadView, errors, read_photo
from .errors import bad_request
from .permissions import CanManagePeople
from .representation import known_face_data, person_data
from .serializers import (
    FaceSerializer,
    FaceUploadSerializer,
    MergeSerializer,
    PeopleFilterSerializer,
    PersonDetailSerializer,
    PersonNameSerializer,
    PersonSerializer,
)

# EnrollmentError says why in words; these give programs a code to branch on.
ENROLLMENT_CODES = (
    ("Consent is required", "consent_required"),
    ("already enrolled", "duplicate"),
    ("No face", "no_face"),
    ("faces were found", "several_faces"),
    ("px wide", "face_too_small"),
    ("blurred", "face_blurred"),
    ("nearer to", "lookalike"),
)


def people() -> QuerySet[Person]:
    return Person.objects.annotate(face_total=Count("faces"))


def delete_person(person: Person, actor: str) -> dict:
    """Forget the person (recognition.privacy): encodings, photos, every mention."""
    return forget_person(person, actor)


def merge_people(target: Person, source_id: int, actor: str) -> int:
    """Move the source person's faces to target and delete the source."""
    if source_id == target.pk:
        raise bad_request(
            "A person cannot be merged into themselves.", "invalid", "from"
        )
    with transaction.atomic():
        source = Person.objects.select_for_update().filter(pk=source_id).first()
        if source is None:
            raise bad_request("No such person.", "not_found", "from")
        moved = KnownFace.objects.filter(person=source).update(person=target)
        source_name = source.name
        source.delete()
        target.save(update_fields=["updated_at"])
        audit.record(
            audit.Action.MERGE,
            actor,
            target.pk,
            from_id=source_id,
            from_name=source_name,
            faces_moved=moved,
        )
        # update() sends no signal: publish the new gallery explicitly.
        transaction.on_commit(gallery.invalidate)
    return moved


def save_person(serializer: PersonNameSerializer, actor: str) -> Person:
    """Save a new or changed person and audit what changed."""
    before = serializer.instance
    old = (
        {
            field: getattr(before, field)
            for field in ("name", "consent_given_by", "consent_purpose", "consent_at")
        }
        if before is not None
        else None
    )
    try:
        with transaction.atomic():
            person = serializer.save()
            audit_changes(person, old, actor)
    except IntegrityError:  # the same name, saved by a concurrent request
        raise bad_request("This name is taken.", "unique", "name") from None
    return person


def audit_changes(person: Person, old: dict | None, actor: str) -> None:
    if old is None:
        audit.record(audit.Action.CREATE, actor, person.pk, name=person.name)
    elif old["name"] != person.name:
        audit.record(
            audit.Action.RENAME,
            actor,
            person.pk,
            old_name=old["name"],
            new_name=person.name,
        )
    consent = ("consent_given_by", "consent_purpose", "consent_at")
    if person.consent_at and (
        old is None or any(old[f] != getattr(person, f) for f in consent)
    ):
        audit.record(
            audit.Action.CONSENT,
            actor,
            person.pk,
            consent_at=person.consent_at.isoformat(),
            purpose=person.consent_purpose,
        )


def enrollment_code(message: str) -> str:
    for words, code in ENROLLMENT_CODES:
        if words in message:
            return code
    return "enrollment_refused"


class PeopleView(ApiView):
    permission_classes = [CanManagePeople]

    def person(self, pk: int) -> Person:
        return get_object_or_404(people(), pk=pk)

    def person_json(self, person: Person) -> dict:
        faces = [known_face_data(face, self.absolute) for face in person.faces.all()]
        data = person_data(person, self.absolute, len(faces))
        data["faces"] = faces
        return self.output(PersonDetailSerializer, data)


class PeopleList(PeopleView):
    """The enrolled people."""

    parser_classes = [JSONParser]
    pagination_class = Pagination

    @extend_schema(
        operation_id="people_list",
        summary="Enrolled people, by name",
        parameters=[PeopleFilterSerializer],
        responses={200: PersonSerializer(many=True), **errors(400, 404)},
    )
    def get(self, request: Request) -> Response:
        filters = self.validated(PeopleFilterSerializer, request.query_params)
        queryset = people().order_by("name", "pk")
        if filters.get("search"):
            queryset = queryset.filter(name__icontains=filters["search"])
        return self.paginated(
            queryset,
            PersonSerializer,
            lambda person: person_data(person, self.absolute, person.face_total),
        )

    @extend_schema(
        operation_id="people_create",
        summary="Add a person, with consent (then enrol photos at /people/{id}/faces)",
        request=PersonNameSerializer,
        responses={201: PersonDetailSerializer, **errors(400, 415)},
    )
    def post(self, request: Request) -> Response:
        serializer = PersonNameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = save_person(serializer, audit.request_actor(request))
        person = self.person(saved.pk)
        data = self.person_json(person)
        headers = {"Location": data["links"]["self"]}
        return Response(data, status=status.HTTP_201_CREATED, headers=headers)


class PersonDetail(PeopleView):
    """One enrolled person."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="people_retrieve",
        summary="A person and their enrolled faces",
        responses={200: PersonDetailSerializer, **errors(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(self.person_json(self.person(pk)))

    @extend_schema(
        operation_id="people_partial_update",
        summary="Rename a person or record their consent",
        request=PersonNameSerializer,
        responses={200: PersonDetailSerializer, **errors(400, 404, 415)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        person = self.person(pk)
        serializer = PersonNameSerializer(person, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        save_person(serializer, audit.request_actor(request))
        return Response(self.person_json(self.person(pk)))

    @extend_schema(
        operation_id="people_destroy",
        summary="Forget a person: encodings, photos and every mention in results",
        description="Their faces in other jobs' results are redacted (box and name "
        "removed, verdict `redacted`) and annotated images re-drawn; the audit log "
        "keeps who forgot whom (by id), when and how much was removed.",
        responses={204: None, **errors(404)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        delete_person(self.person(pk), audit.request_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonFaces(PeopleView, UploadView):
    """A person's enrolled face photos."""

    @extend_schema(
        operation_id="people_faces_list",
        summary="A person's enrolled faces",
        responses={200: FaceSerializer(many=True), **errors(404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        person = self.person(pk)
        faces = [known_face_data(face, self.absolute) for face in person.faces.all()]
        return Response(self.output(FaceSerializer, faces, many=True))

    @extend_schema(
        operation_id="people_faces_create",
        summary="Enrol a photo showing exactly one face",
        request={"multipart/form-data": FaceUploadSerializer},
        responses={201: FaceSerializer, **errors(400, 404, 413, 415)},
    )
    def post(self, request: Request, pk: int) -> Response:
        person = self.person(pk)
        fields = self.validated(FaceUploadSerializer, request.data)
        upload = fields["image"]
        data = read_photo(upload, "image")
        try:
            face = enroll_photo(
                person,
                data,
                clean_filename(upload.name),
                box=fields.get("box"),
                confirm=fields["confirm"],
                actor=audit.request_actor(request),
            )
        except EnrollmentError as exc:
            raise bad_request(str(exc), enrollment_code(str(exc)), "image") from None
        except IntegrityError:  # the same photo, enrolled by a concurrent request
            raise bad_request(
                "This photo is already enrolled.", "duplicate", "image"
            ) from None
        data = self.output(FaceSerializer, known_face_data(face, self.absolute))
        headers = {"Location": data["links"]["self"]}
        return Response(data, status=status.HTTP_201_CREATED, headers=headers)


class PersonFace(PeopleView):
    """One enrolled face photo."""

    def face(self, pk: int, face_id: int) -> KnownFace:
        return get_object_or_404(KnownFace, person_id=pk, pk=face_id)

    @extend_schema(
        operation_id="people_faces_retrieve",
        summary="One enrolled face",
        responses={200: FaceSerializer, **errors(404)},
    )
    def get(self, request: Request, pk: int, face_id: int) -> Response:
        face = self.face(pk, face_id)
        return Response(
            self.output(FaceSerializer, known_face_data(face, self.absolute))
        )

    @extend_schema(
        operation_id="people_faces_destroy",
        summary="Remove one enrolled face (photo and encoding)",
        responses={204: None, **errors(404)},
    )
    def delete(self, request: Request, pk: int, face_id: int) -> Response:
        with transaction.atomic():
            face = self.face(pk, face_id)
            face.delete()
            audit.record(
                audit.Action.REMOVE_FACE,
                audit.request_actor(request),
                pk,
                face=face_id,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PersonMerge(PeopleView):
    """Merging two people."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="people_merge",
        summary="Move another person's faces into this one and delete the other",
        request=MergeSerializer,
        responses={200: PersonDetailSerializer, **errors(400, 404, 415)},
    )
    def post(self, request: Request, pk: int) -> Response:
        target = self.person(pk)
        source_id = self.validated(MergeSerializer, request.data)["from"]
        merge_people(target, source_id, audit.request_actor(request))
        return Response(self.person_json(self.person(pk)))
