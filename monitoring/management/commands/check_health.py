"""Print the readiness checks (or only liveness) and exit non-zero on a failure."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring import checks


class Command(BaseCommand):
    help = (
        "Run the health checks of /health/ready/ (database, Redis, a worker answering "
        "a ping, storage, free disk, migrations, face models); exit 1 on a failure."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--live",
            action="store_true",
            help="Only the liveness checks of /health/ (process and database).",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON only.")

    def handle(self, *args: object, **options: object) -> None:
        wanted = checks.LIVENESS if options["live"] else checks.READINESS
        results = checks.run_all(wanted)
        if options["json"]:
            self.stdout.write(json.dumps(checks.report(results), indent=2))
        else:
            for line in describe(results):
                self.stdout.write(line)
        failed = [result.name for result in results if not result.ok]
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}")
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS(f"All {len(results)} checks passed."))


def describe(results: list[checks.Result]) -> list[str]:
    width = max(len(result.name) for result in results)
    return [
        f"{'ok  ' if result.ok else 'FAIL'}  {result.name:<{width}}  "
        f"{result.seconds * 1000:7.1f} ms  {result.detail}"
        for result in results
    ]
