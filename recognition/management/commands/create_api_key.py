"""python manage.py create_api_key NAME [--scopes recognize,manage] [--user NAME]"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognition.models import ApiKey


def parse_scopes(text: str) -> list[str]:
    scopes = [scope.strip() for scope in text.split(",") if scope.strip()]
    unknown = sorted(set(scopes) - set(ApiKey.Scope.values))
    if unknown or not scopes:
        raise CommandError(
            f"Scopes must be a comma-separated subset of "
            f"{', '.join(ApiKey.Scope.values)}; got {text!r}."
        )
    return list(dict.fromkeys(scopes))


class Command(BaseCommand):
    help = "Create an API key and print it once (only its digest is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What the key is for, e.g. door-camera.")
        parser.add_argument(
            "--scopes",
            default=ApiKey.Scope.RECOGNIZE,
            help="Comma-separated: recognize, manage (default: recognize).",
        )
        parser.add_argument(
            "--user", help="The username the key acts for (its jobs are theirs)."
        )

    def handle(self, *args: object, **options: object) -> None:
        name = str(options["name"]).strip()
        if not name or len(name) > 100:
            raise CommandError("The name must be 1 to 100 characters.")
        scopes = parse_scopes(str(options["scopes"]))
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user named {options['user']!r}.")
        key, raw_key = ApiKey.issue(name, scopes, user)
        self.stderr.write(
            f"Created API key {key.name!r} ({key.prefix}) with scopes "
            f"{', '.join(scopes)}. Store it now: it cannot be shown again."
        )
        self.stdout.write(raw_key)
