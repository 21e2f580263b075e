from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recognition import calibration
from recognition.models import Calibration, Person


class Command(BaseCommand):
    help = (
        "Estimate the tolerance for a false-accept rate from the enrolled gallery "
        "(leave-one-out over people's photos) and, with --apply, use it."
    )

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--target-far", type=float, default=0.01)
        parser.add_argument("--min", type=float, help="Lowest tolerance allowed.")
        parser.add_argument("--max", type=float, help="Highest tolerance allowed.")
        parser.add_argument("--apply", action="store_true", help="Use the result now.")

    def handle(self, *args, **opts) -> None:  # noqa: ANN002, ANN003
        low, high = calibration.bounds()
        low = opts["min"] if opts["min"] is not None else low
        high = opts["max"] if opts["max"] is not None else high
        if not 0 < low <= high <= 1:
            raise CommandError(
                f"Bounds must satisfy 0 < min <= max <= 1 ({low}, {high})."
            )
        if not 0 <= opts["target_far"] < 1:
            raise CommandError("--target-far must be in [0, 1).")
        proposed = calibration.estimate(opts["target_far"], (low, high))
        if proposed.people < 2:
            raise CommandError("Calibration needs at least two enrolled people.")
        self.stdout.write(
            f"{proposed.people} people, {proposed.impostor_pairs} stranger searches, "
            f"{proposed.genuine_pairs} genuine searches."
        )
        self.stdout.write(
            f"Tolerance for a false-accept rate of {opts['target_far']:g}: "
            f"{proposed.tolerance:.2f} (bounds {low:.2f}-{high:.2f})."
        )
        names = dict(Person.objects.values_list("pk", "name"))
        for pid, value in sorted(proposed.per_person.items(), key=lambda kv: kv[1]):
            self.stdout.write(f"  {names.get(int(pid), pid)}: {value:.2f}")
        if opts["apply"]:
            calibration.apply(proposed)
            self.stdout.write("Applied.")
        else:
            proposed.save()
            current = Calibration.objects.filter(applied=True).first()
            in_use = f"{current.tolerance:.2f}" if current else "the setting"
            self.stdout.write(f"Not applied (in use: {in_use}); use --apply.")
