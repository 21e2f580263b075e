"""Forget one enrolled person: their encodings, photos and every mention."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognition import audit
from recognition.models import Person
from recognition.privacy import forget_person


class Command(BaseCommand):
    help = (
        "Forget a person, by id or exact name: their face encodings and enrolment "
        "photos, their names and faces in every job result (redacted), the "
        "annotated images showing their name (re-drawn or deleted) and Celery "
        "results mentioning them. The audit log keeps who, when and the counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("person", help="The person's id or exact name.")

    def handle(self, *args: object, person: str, **options: object) -> None:
        found = find_person(person)
        person_id = found.pk
        counts = forget_person(found, audit.command_actor("forget_person"))
        summary = ", ".join(f"{key} {value}" for key, value in counts.items())
        self.stdout.write(f"Forgot person {person_id}: {summary}")


def find_person(value: str) -> Person:
    """The person with this id, else with this exact name; CommandError if none."""
    value = value.strip()
    person = None
    if value.isdigit() and len(value) <= 18:  # fits a 64-bit id
        person = Person.objects.filter(pk=int(value)).first()
    if person is None:
        person = Person.objects.filter(name=value).first()
    if person is None:
        raise CommandError(f"No person with the id or name {value!r}.")
    return person
