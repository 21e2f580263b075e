"""Request and response shapes. Responses are built as dicts (representation.py)
and pass through these serializers, so the OpenAPI schema is what is sent."""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from ..models import Job, Person

MAX_WAIT = 30
MAX_CANDIDATES = 10
MAX_ID = 10**18


# --- Shared pieces ----------------------------------------------------------------


class JsonCharField(serializers.CharField):
    """A JSON string: a number is not silently turned into one."""

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class JsonIntegerField(serializers.IntegerField):
    """A JSON integer: not "5", 5.0 or true."""

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictInput(serializers.Serializer):
    """Form and query input where an empty value is an error, not "not given".

    DRF treats `?wait=` like no `wait` at all; the schema says it is not a number.
    """

    def to_internal_value(self, data: object) -> dict:
        if hasattr(data, "getlist"):
            for name, field in self.fields.items():
                blank = data.get(name) == ""
                if blank and not getattr(field, "allow_blank", False):
                    raise serializers.ValidationError(
                        {name: ["This field may not be blank."]}, code="blank"
                    )
                # A field sent twice is not silently read as its last value.
                single = not isinstance(field, serializers.ListField)
                if single and len(data.getlist(name)) > 1:
                    raise serializers.ValidationError(
                        {name: ["Send this field once."]}, code="repeated"
                    )
        return super().to_internal_value(data)


class BoxSerializer(serializers.Serializer):
    """A face's box in pixels of the original (orientation-corrected) image; null
    for a redacted face (a person who was forgotten)."""

    top = serializers.IntegerField()
    right = serializers.IntegerField()
    bottom = serializers.IntegerField()
    left = serializers.IntegerField()


class PersonRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CandidateSerializer(serializers.Serializer):
    person = PersonRefSerializer()
    distance = serializers.FloatField()


# --- Recognitions ---------------------------------------------------------------


class RecognizedFaceSerializer(serializers.Serializer):
    box = BoxSerializer(allow_null=True)
    person = PersonRefSerializer(
        allow_null=True, help_text="The person named, when the verdict is `match`."
    )
    distance = serializers.FloatField(
        allow_null=True, help_text="Distance to the nearest person; null if none."
    )
    verdict = serializers.ChoiceField(
        choices=["match", "unknown", "ambiguous", "redacted"],
        help_text="`ambiguous`: the two nearest people are within the margin. "
        "`redacted`: the face was of a person since forgotten (no box, no name).",
    )
    candidates = CandidateSerializer(many=True, help_text="Nearest people first.")


class ParametersSerializer(serializers.Serializer):
    tolerance = serializers.FloatField()
    margin = serializers.FloatField()
    limit = serializers.IntegerField()
    detector = serializers.CharField()
    model = serializers.CharField()


class RecognitionLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    annotated_image = serializers.CharField(
        allow_null=True, help_text="The JPEG with boxes and names, once finished."
    )


class RecognitionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Job.Status.choices)
    final = serializers.BooleanField(help_text="SUCCESS, FAILURE or DEAD.")
    filename = serializers.CharField()
    priority = serializers.ChoiceField(choices=Job.Priority.choices)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration = serializers.FloatField(allow_null=True, help_text="Seconds.")
    attempts = serializers.IntegerField()
    error = serializers.CharField(allow_null=True)
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    face_count = serializers.IntegerField()
    faces = RecognizedFaceSerializer(many=True)
    timings = serializers.DictField(
        child=serializers.FloatField(),
        help_text="Seconds per stage: decode, detect, encode, match, annotate.",
    )
    parameters = ParametersSerializer()
    callback_url = serializers.CharField(allow_null=True)
    links = RecognitionLinksSerializer()


class RecognitionBatchSerializer(serializers.Serializer):
    submission = serializers.UUIDField()
    count = serializers.IntegerField()
    results = RecognitionSerializer(many=True)


class RecognitionUploadSerializer(StrictInput):
    image = serializers.FileField(required=False, help_text="One photo.")
    images = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        help_text="Several photos: the answer is a batch.",
    )
    wait = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_WAIT,
        help_text="Seconds to wait for the result (also a query parameter).",
    )
    limit = serializers.IntegerField(
        default=1, min_value=1, max_value=MAX_CANDIDATES, help_text="Candidates/face."
    )
    tolerance = serializers.FloatField(
        required=False, min_value=0.0, max_value=1.0, help_text="Overrides the default."
    )
    priority = serializers.ChoiceField(
        choices=Job.Priority.choices, default=Job.Priority.NORMAL
    )
    callback_url = serializers.URLField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="POSTed the job when it finishes.",
    )

    def validate_callback_url(self, value: str) -> str:
        if value and not settings.FACESITE_WEBHOOK_SECRET:
            raise serializers.ValidationError(
                "Webhooks are off: the server has no FACESITE_WEBHOOK_SECRET."
            )
        return value

    def validate(self, attrs: dict) -> dict:
        files = ([attrs["image"]] if "image" in attrs else []) + attrs.get("images", [])
        if not files:
            raise serializers.ValidationError(
                {"image": "Send a photo as `image` (or several as `images`)."}
            )
        if "image" in attrs and attrs.get("images"):
            raise serializers.ValidationError(
                {"images": "Send either `image` or `images`, not both."}
            )
        limit = settings.FACESITE_MAX_FILES_PER_UPLOAD
        if len(files) > limit:
            raise serializers.ValidationError(
                {"images": f"At most {limit} photos per request."}
            )
        attrs["files"] = files
        return attrs


class WaitQuerySerializer(StrictInput):
    wait = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_WAIT, help_text="Seconds, ≤ 30."
    )


class RecognitionFilterSerializer(StrictInput):
    status = serializers.ChoiceField(
        choices=Job.Status.choices, required=False, allow_blank=True
    )
    person = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Jobs that named this person (by their current name).",
    )
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


# --- Detections and verification --------------------------------------------------


class DetectionUploadSerializer(StrictInput):
    image = serializers.FileField()
    landmarks = serializers.ChoiceField(
        choices=["none", "5", "68"],
        default="none",
        help_text="5 or 68 landmark points per face.",
    )


class DetectedFaceSerializer(serializers.Serializer):
    box = BoxSerializer()
    landmarks = serializers.DictField(
        child=serializers.ListField(
            child=serializers.ListField(child=serializers.IntegerField())
        ),
        allow_null=True,
        help_text="Feature name → [[x, y], …]; null unless asked for.",
    )


class DetectionSerializer(serializers.Serializer):
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    detector = serializers.CharField()
    faces = DetectedFaceSerializer(many=True)
    timings = serializers.DictField(child=serializers.FloatField())


class VerifyUploadSerializer(StrictInput):
    image = serializers.FileField()
    other_image = serializers.FileField(
        required=False, help_text="The photo to compare with (or `person`)."
    )
    person = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="An enrolled person to compare with (or `other_image`).",
    )
    tolerance = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)

    def validate(self, attrs: dict) -> dict:
        if ("other_image" in attrs) == ("person" in attrs):
            raise serializers.ValidationError(
                {"other_image": "Send exactly one of `other_image` and `person`."}
            )
        return attrs


class VerifiedFaceSerializer(serializers.Serializer):
    box = BoxSerializer()
    faces_found = serializers.IntegerField(help_text="The largest face is compared.")


class VerificationSerializer(serializers.Serializer):
    match = serializers.BooleanField(help_text="distance ≤ tolerance")
    distance = serializers.FloatField()
    tolerance = serializers.FloatField()
    faces = VerifiedFaceSerializer(many=True)
    person = PersonRefSerializer(allow_null=True)


# --- People -----------------------------------------------------------------------


class FaceLinksSerializer(serializers.Serializer):
    self = serializers.CharField()


class FaceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    person = serializers.IntegerField()
    box = BoxSerializer()
    source_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    links = FaceLinksSerializer()


class PersonLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    faces = serializers.CharField()


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    face_count = serializers.IntegerField()
    consent_given_by = serializers.CharField(help_text="Empty: no consent recorded.")
    consent_at = serializers.DateTimeField(allow_null=True)
    consent_purpose = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    links = PersonLinksSerializer()


class PersonDetailSerializer(PersonSerializer):
    faces = FaceSerializer(many=True)


class PersonNameSerializer(serializers.ModelSerializer):
    """A person's name and, optionally, the consent to enrol them."""

    # Trimmed after the length check (DRF trims first), so the schema's maxLength
    # holds for what is sent.
    name = JsonCharField(max_length=200, trim_whitespace=False)
    consent_given_by = JsonCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Who gave consent to enrol this person (with consent_purpose).",
    )
    consent_purpose = JsonCharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="What the consent covers.",
    )
    consent_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When; default: now."
    )

    class Meta:
        model = Person
        fields = ["name", "consent_given_by", "consent_purpose", "consent_at"]

    def validate(self, attrs: dict) -> dict:
        consent = ("consent_given_by", "consent_purpose", "consent_at")
        if not any(field in attrs for field in consent):
            return attrs
        merged = {
            field: attrs.get(field, getattr(self.instance, field, None))
            for field in consent
        }
        given_by = (merged["consent_given_by"] or "").strip()
        purpose = (merged["consent_purpose"] or "").strip()
        if (given_by or purpose or merged["consent_at"]) and not (given_by and purpose):
            raise serializers.ValidationError(
                {
                    "consent_given_by": "Record consent completely: who gave it "
                    "(consent_given_by) and for what purpose (consent_purpose)."
                },
                code="incomplete_consent",
            )
        attrs["consent_given_by"], attrs["consent_purpose"] = given_by, purpose
        if given_by and not merged["consent_at"]:
            attrs["consent_at"] = timezone.now()
        if not given_by:
            attrs["consent_at"] = None
        return attrs

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("The name may not be blank.")
        if any(unicodedata.category(ch)[0] == "C" for ch in value):
            raise serializers.ValidationError("The name has control characters.")
        others = Person.objects.exclude(pk=getattr(self.instance, "pk", None))
        if others.filter(name=value).exists():
            raise serializers.ValidationError("This name is taken.", code="unique")
        return value


class PeopleFilterSerializer(StrictInput):
    search = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Part of the name."
    )


class FaceUploadSerializer(StrictInput):
    image = serializers.FileField(help_text="A photo showing exactly one face.")
    box = serializers.RegexField(
        r"^\d{1,6},\d{1,6},\d{1,6},\d{1,6}$",
        required=False,
        help_text="top,right,bottom,left in pixels: picks one face of several.",
    )
    confirm = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Enrol even when the face is nearer to another person.",
    )

    def validate_box(self, value: str) -> tuple[int, int, int, int]:
        top, right, bottom, left = (int(v) for v in value.split(","))
        if bottom <= top or right <= left:
            raise serializers.ValidationError("The box must have a positive size.")
        return top, right, bottom, left


class MergeSerializer(serializers.Serializer):
    """{"from": id}: `from` is a Python keyword, hence get_fields()."""

    def get_fields(self) -> dict:
        return {
            "from": JsonIntegerField(
                min_value=1,
                max_value=MAX_ID,
                help_text="The person whose faces move here; then deleted.",
            )
        }
