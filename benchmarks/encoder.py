"""Time dlib's face encoder against recognition.encoder (the same network in numpy).

Prints milliseconds a face for each network on the same 150 px chips (the median
over the faces), the per-face time when several faces go through the numpy network
at once, and the largest difference between ours and face_recognition's encodings
(dlib's compute_face_descriptor on the photo). Detection, landmarks and chips are
the same for both and are not timed.

    .venv/bin/python benchmarks/encoder.py [FOLDER] [--faces 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dlib  # noqa: E402
import face_recognition  # noqa: E402
import face_recognition_models  # noqa: E402
import numpy as np  # noqa: E402

from recognition import encoder  # noqa: E402
from recognition.pipeline import DetectOptions, detect_faces, load_image  # noqa: E402

DEFAULT_FOLDER = Path(__file__).resolve().parent.parent.parent / "shared" / "faces"


def chips_and_shapes(folder: Path, wanted: int) -> list[tuple[np.ndarray, object]]:
    """(image, landmarks) of the first `wanted` faces found under the folder."""
    found = []
    landmarks = face_recognition.api.pose_predictor_5_point
    for path in sorted(folder.rglob("*.jpg")):
        rgb = load_image(path.read_bytes(), 50_000_000)
        for top, right, bottom, left in detect_faces(rgb, DetectOptions()):
            shape = landmarks(rgb, dlib.rectangle(left, top, right, bottom))
            found.append((rgb, shape))
            if len(found) == wanted:
                return found
    return found


def millis(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--faces", type=int, default=60)
    args = parser.parse_args()
    model = face_recognition_models.face_recognition_model_location()
    dlib_net = dlib.face_recognition_model_v1(model)
    numpy_net = encoder.load(model)
    faces = chips_and_shapes(args.folder, args.faces)
    if not faces:
        sys.exit(f"No face found under {args.folder}")
    dlib_times, numpy_times, worst = [], [], 0.0
    chips = []
    for rgb, shape in faces:
        chip = dlib.get_face_chip(rgb, shape, size=150, padding=0.25)
        chips.append(chip)
        start = time.perf_counter()
        theirs = np.array(dlib_net.compute_face_descriptor(chip))
        dlib_times.append(time.perf_counter() - start)
        reference = np.array(dlib_net.compute_face_descriptor(rgb, shape))
        worst = max(worst, float(np.abs(reference - theirs).max()))
        start = time.perf_counter()
        (ours,) = numpy_net.encode(chip[None])
        numpy_times.append(time.perf_counter() - start)
        worst = max(worst, float(np.abs(ours - theirs).max()))
    start = time.perf_counter()
    for first in range(0, len(chips), 8):
        numpy_net.encode(np.array(chips[first : first + 8]))
    batched = (time.perf_counter() - start) / len(chips)
    print(f"{len(faces)} faces from {args.folder}, one thread")
    ratio = statistics.median(dlib_times) / statistics.median(numpy_times)
    print(f"dlib's ResNet:                 {millis(dlib_times)} a face")
    print(f"recognition.encoder:           {millis(numpy_times)} a face ({ratio:.1f}x)")
    print(f"recognition.encoder, 8 a pass: {batched * 1000:.1f} ms a face")
    print(f"largest difference between the encodings: {worst:.2e}")


if __name__ == "__main__":
    main()
