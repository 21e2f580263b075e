"""Enrol a folder of face photos laid out as DIR/<person name>/<image>."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from recognition import audit
from recognition.batch import is_hidden, relative_name, walk_files
from recognition.enrollment import EnrollmentError, enroll_photo, has_consent
from recognition.models import Person

DEFAULT_CONSENT_BY = "the person enrolled"


class Command(BaseCommand):
    help = (
        "Enrol every photo under DIR/<person name>/. Each photo must show exactly "
        "one face; photos already enrolled (same content) are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="A folder of person folders.")
        parser.add_argument(
            "--confirm-lookalikes",
            action="store_true",
            help="Enrol photos that are nearer to another person too.",
        )
        parser.add_argument(
            "--consent",
            metavar="PURPOSE",
            default="",
            help="Record that each person consented to enrolment for this purpose "
            "(required first when FACESITE_REQUIRE_CONSENT is on).",
        )
        parser.add_argument(
            "--consent-by",
            metavar="WHO",
            default="",
            help=f"Who gave that consent (default: {DEFAULT_CONSENT_BY}).",
        )

    def handle(self, *args: object, directory: str, **options: object) -> None:
        root = Path(directory).expanduser()
        self.confirm = bool(options["confirm_lookalikes"])
        self.consent = str(options["consent"]).strip()
        self.consent_by = str(options["consent_by"]).strip()
        if self.consent_by and not self.consent:
            raise CommandError("--consent-by needs --consent PURPOSE.")
        self.consent_by = self.consent_by or DEFAULT_CONSENT_BY
        self.actor = audit.command_actor("enroll_faces")
        folders = person_folders(root)
        self.enrolled = self.skipped = 0
        for path in sorted(root.iterdir()):
            if path.is_file() and not is_hidden(path, root):
                self.skip(relative_name(path, root), "not in a person folder")
        people = sum(self.enroll_person(folder, root) for folder in folders)
        self.stdout.write(
            f"{self.enrolled} enrolled, {self.skipped} skipped, {people} people"
        )

    def enroll_person(self, folder: Path, root: Path) -> bool:
        """Enrol one person's photos; True when the person has faces afterwards."""
        limit = Person._meta.get_field("name").max_length
        if len(folder.name) > limit:
            for path in walk_files(folder):
                self.skip(relative_name(path, root), f"person name over {limit} chars")
            return False
        if not self.consent_allows(folder.name):
            for path in walk_files(folder):
                self.skip(
                    relative_name(path, root),
                    "consent required: record it in the admin, the API or with "
                    "--consent PURPOSE",
                )
            return False
        person, created = Person.objects.get_or_create(name=folder.name)
        if created:
            audit.record(audit.Action.CREATE, self.actor, person.pk, name=person.name)
        self.record_consent(person)
        added = sum(self.enroll_file(person, path, root) for path in walk_files(folder))
        if created and not added:
            # A folder without one usable photo must not leave an empty person.
            person_id = person.pk
            person.delete()
            audit.record(
                audit.Action.DELETE,
                self.actor,
                person_id,
                reason="no photo could be enrolled",
            )
            return False
        return added > 0 or person.faces.exists()

    def consent_allows(self, name: str) -> bool:
        """False when consent is required but neither recorded nor given here."""
        if not settings.FACESITE_REQUIRE_CONSENT or self.consent:
            return True
        person = Person.objects.filter(name=name).first()
        return person is not None and has_consent(person)

    def record_consent(self, person: Person) -> None:
        if not self.consent:
            return
        if (person.consent_purpose, person.consent_given_by) == (
            self.consent,
            self.consent_by,
        ) and person.consent_at:
            return
        person.consent_purpose = self.consent[:500]
        person.consent_given_by = self.consent_by[:200]
        person.consent_at = timezone.now()
        person.save(
            update_fields=[
                "consent_purpose",
                "consent_given_by",
                "consent_at",
                "updated_at",
            ]
        )
        audit.record(
            audit.Action.CONSENT,
            self.actor,
            person.pk,
            consent_at=person.consent_at.isoformat(),
            purpose=person.consent_purpose,
        )

    def enroll_file(self, person: Person, path: Path, root: Path) -> bool:
        name = relative_name(path, root)
        try:
            enroll_photo(
                person,
                read_photo(path),
                source_name=name,
                confirm=self.confirm,
                actor=self.actor,
            )
        except EnrollmentError as exc:
            self.skip(name, str(exc))
            return False
        self.enrolled += 1
        self.stdout.write(f"enrolled  {name}  -> {person.name}")
        return True

    def skip(self, name: str, reason: str) -> None:
        self.skipped += 1
        self.stdout.write(f"skipped   {name}  ({reason.rstrip('.')})")


def person_folders(root: Path) -> list[Path]:
    """The visible sub-folders of root; CommandError when there is none."""
    if not root.exists():
        raise CommandError(f"{root} does not exist.")
    if not root.is_dir():
        raise CommandError(f"{root} is not a folder.")
    folders = [
        path
        for path in sorted(root.iterdir())
        if path.is_dir() and not is_hidden(path, root)
    ]
    if not folders:
        raise CommandError(
            f"{root} holds no person folders; lay it out as "
            f"{root}/<person name>/<image>."
        )
    return folders


def read_photo(path: Path) -> bytes:
    """The file's bytes; EnrollmentError when it is too large, empty or unreadable."""
    limit = settings.FACESITE_MAX_UPLOAD_BYTES
    try:
        size = path.stat().st_size
        if size > limit:
            raise EnrollmentError(f"{size:,} bytes; the limit is {limit:,}")
        data = path.read_bytes()
    except OSError as exc:
        raise EnrollmentError(f"cannot read the file: {exc.strerror or exc}") from None
    if not data:
        raise EnrollmentError("the file is empty")
    return data
