"""Time dlib's face encoder against recognition.encoder (the same network in numpy).

Prints milliseconds a face for each network on the same 150 px chips (the median
over the faces), the per-face time when several faces go through the numpy network
at once, and the largest difference between ours and face_recognition's encodings.
Detection, landmarks and chips are the same for both and are not timed.

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
from recognition.pipeline import (  # noqa: E402
    DetectOptions,
    detect_faces,
    face_chips,
    load_image,
)

DEFAULT_FOLDER = Path(__file__).resolve().parent.parent.parent / "shared" / "faces"


def faces_under(folder: Path, wanted: int) -> tuple[np.ndarray, np.ndarray]:
    """The chips of the first `wanted` faces under the folder, and face_recognition's
    encodings of them."""
    chips, encodings = [], []
    for path in sorted(folder.rglob("*.jpg")):
        rgb = load_image(path.read_bytes(), 50_000_000)
        boxes = detect_faces(rgb, DetectOptions())[: wanted - len(chips)]
        if boxes:
            chips.extend(face_chips(rgb, boxes))
            encodings.extend(face_recognition.face_encodings(rgb, boxes))
        if len(chips) == wanted:
            break
    return np.array(chips), np.array(encodings)


def timed(function, *args: object) -> tuple[object, float]:  # noqa: ANN001
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--faces", type=int, default=60)
    args = parser.parse_args()
    model = face_recognition_models.face_recognition_model_location()
    dlib_net = dlib.face_recognition_model_v1(model)
    numpy_net = encoder.load(model)
    chips, reference = faces_under(args.folder, args.faces)
    if not len(chips):
        sys.exit(f"No face found under {args.folder}")
    dlib_times, numpy_times, ours = [], [], []
    for chip in chips:
        dlib_times.append(timed(dlib_net.compute_face_descriptor, chip)[1])
        encoding, seconds = timed(numpy_net.encode, chip[None])
        numpy_times.append(seconds)
        ours.append(encoding[0])
    _, batched = timed(
        lambda: [numpy_net.encode(chips[i : i + 8]) for i in range(0, len(chips), 8)]
    )
    dlib_ms = statistics.median(dlib_times) * 1000
    numpy_ms = statistics.median(numpy_times) * 1000
    worst = float(np.abs(np.array(ours) - reference).max())
    print(f"{len(chips)} faces from {args.folder}, one thread")
    print(f"dlib's ResNet:                 {dlib_ms:.1f} ms a face")
    ratio = dlib_ms / numpy_ms
    print(f"recognition.encoder:           {numpy_ms:.1f} ms a face ({ratio:.1f}x)")
    print(f"recognition.encoder, 8 a pass: {batched / len(chips) * 1000:.1f} ms a face")
    print(f"largest difference between the encodings: {worst:.2e}")


if __name__ == "__main__":
    main()
