from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recognition import evaluation, options


class Command(BaseCommand):
    help = (
        "Measure recognition accuracy on a labelled folder (known/ probe/ unknown/ "
        "noface/ group/, or <person>/<image>) with a temporary gallery."
    )

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("dataset", type=Path)
        parser.add_argument(
            "--json", action="store_true", help="Print one JSON object."
        )
        parser.add_argument(
            "--report", type=Path, help="Folder for report.json and plot."
        )
        parser.add_argument(
            "--tolerance", type=float, help="Default: the configured one."
        )
        parser.add_argument("--margin", type=float, help="Default: the configured one.")
        parser.add_argument(
            "--rule", choices=evaluation.RULES, help="Default: configured."
        )
        parser.add_argument("--target-far", type=float, default=0.01)
        parser.add_argument("--min-correct", type=int, help="Fail below this many.")
        parser.add_argument("--max-wrong", type=int, help="Fail above this many.")
        parser.add_argument("--max-strangers-accepted", type=int)
        parser.add_argument("--max-noface-faces", type=int)
        parser.add_argument("--min-group-faces", type=int)

    def handle(self, *args, **opts) -> None:  # noqa: ANN002, ANN003
        root: Path = opts["dataset"]
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder.")
        dataset = evaluation.load_dataset(root)
        if not dataset.enrol or not dataset.probes:
            raise CommandError(f"{root} holds no enrolment and probe photos.")
        tolerance = (
            opts["tolerance"] if opts["tolerance"] is not None else options.tolerance()
        )
        margin = opts["margin"] if opts["margin"] is not None else options.margin()
        progress = (lambda _: None) if opts["json"] else self.stderr.write
        encoded = evaluation.encode_dataset(
            dataset, options.detect_options(), options.max_pixels(), progress
        )
        rule = opts["rule"] or options.match_rule()
        report = build_report(encoded, tolerance, margin, rule, opts["target_far"])
        if opts["report"]:
            write_report(report, encoded, rule, tolerance, opts["report"])
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(render(report))
        failures = check_thresholds(report, opts)
        if failures:
            raise CommandError("Thresholds not met: " + "; ".join(failures))


def build_report(
    encoded: evaluation.Encoded, tolerance: float, margin: float, rule: str, far: float
) -> dict:
    strangers = len(encoded.stranger_vectors)
    current = None
    rules = {}
    for name in evaluation.RULES:
        s = evaluation.searches(encoded, name)
        rows = evaluation.table(s, margin, strangers)
        best = evaluation.recommend(rows, far)
        rules[name] = {
            "recommended": best.as_dict() if best else None,
            "table": [row.as_dict() for row in rows],
        }
        if name == rule:
            current = evaluation.outcome(s, tolerance, margin, strangers)
    return {
        "settings": {"tolerance": tolerance, "margin": margin, "rule": rule},
        "people": len(encoded.people),
        "enrolled_photos": len(encoded.enrol_vectors),
        "enrol_refused": encoded.enrol_refused,
        "probes": int(sum(encoded.probe_owner >= 0)),
        "probes_without_face": encoded.probe_missed,
        "correct": current.correct,
        "wrong": current.wrong,
        "rejected": current.rejected,
        "strangers": strangers,
        "strangers_accepted": current.strangers_accepted,
        "false_accept_rate": round(current.far, 4),
        "noface_faces": sum(encoded.noface_found.values()),
        "noface": encoded.noface_found,
        "group_faces": sum(encoded.group_faces.values()),
        "group": encoded.group_faces,
        "group_named": evaluation.group_names(
            encoded, rule, tolerance, margin, options.min_identify_size()
        ),
        "target_far": far,
        "recommended_tolerance": (
            rules[rule]["recommended"]["tolerance"]
            if rules[rule]["recommended"]
            else None
        ),
        "rules": rules,
    }


def write_report(
    report: dict, encoded: evaluation.Encoded, rule: str, tolerance: float, folder: Path
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2))
    genuine, impostor = evaluation.distance_sets(evaluation.searches(encoded, rule))
    evaluation.plot_distributions(
        genuine, impostor, tolerance, folder / "distances.png"
    )


def render(report: dict) -> str:
    s = report["settings"]
    lines = [
        f"Gallery: {report['people']} people, {report['enrolled_photos']} photos "
        f"({len(report['enrol_refused'])} refused). Rule {s['rule']}, "
        f"tolerance {s['tolerance']:.2f}, margin {s['margin']:.2f}.",
        f"Probes: {report['correct']} of {report['probes']} named correctly, "
        f"{report['wrong']} named as someone else, {report['rejected']} rejected "
        f"({len(report['probes_without_face'])} without a face found).",
        f"Strangers: {report['strangers_accepted']} of {report['strangers']} accepted; "
        "false-accept rate over all stranger searches "
        f"{report['false_accept_rate']:.3f}.",
        f"No-face photos: {report['noface_faces']} faces found. "
        f"Group photos: {report['group_faces']} faces found.",
        "Named in group photos: "
        + (
            "; ".join(
                f"{photo}: {', '.join(names)}"
                for photo, names in report["group_named"].items()
                if names
            )
            or "nobody"
        ),
        "",
        "Per rule, the largest tolerance with a false-accept rate within "
        f"{report['target_far']:.3f}:",
    ]
    for name, data in report["rules"].items():
        best = data["recommended"]
        if best is None:
            lines.append(f"  {name:9s} none")
            continue
        lines.append(
            f"  {name:9s} tolerance {best['tolerance']:.2f}: "
            f"{best['correct']} correct, "
            f"{best['wrong']} wrong, {best['strangers_accepted']} strangers accepted"
        )
    lines += [
        "",
        f"Tolerance table ({s['rule']}):",
        "  tol   correct wrong rejected strangers  FAR",
    ]
    for row in report["rules"][s["rule"]]["table"]:
        lines.append(
            f"  {row['tolerance']:.2f}  {row['correct']:7d} {row['wrong']:5d} "
            f"{row['rejected']:8d} {row['strangers_accepted']:9d}  {row['far']:.3f}"
        )
    recommended = report["recommended_tolerance"]
    lines.append(
        f"Recommended tolerance for a false-accept rate of {report['target_far']:.3f}: "
        + (f"{recommended:.2f}" if recommended is not None else "none")
    )
    return "\n".join(lines)


def check_thresholds(report: dict, opts: dict) -> list[str]:
    checks = [
        ("min_correct", "correct", lambda v, limit: v >= limit),
        ("max_wrong", "wrong", lambda v, limit: v <= limit),
        ("max_strangers_accepted", "strangers_accepted", lambda v, limit: v <= limit),
        ("max_noface_faces", "noface_faces", lambda v, limit: v <= limit),
        ("min_group_faces", "group_faces", lambda v, limit: v >= limit),
    ]
    return [
        f"{key} {report[key]} (--{option.replace('_', '-')} {opts[option]})"
        for option, key, ok in checks
        if opts[option] is not None and not ok(report[key], opts[option])
    ]
