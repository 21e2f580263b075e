"""The recognition pipeline: load, detect, encode, match, annotate.

Plain functions over bytes and numpy arrays: no Django, no Celery. Boxes are
(top, right, bottom, left) in pixels of the original, orientation-corrected image,
the convention of the face_recognition package.
"""

from __future__ import annotations

import functools
import io
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from recognition import encoder

Box = tuple[int, int, int, int]

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")  # JPEG includes MPO (multi-picture) files
DETECTORS = ("hog", "cnn", "haar")


class ImageError(ValueError):
    """The input is not a usable image. A terminal failure: retrying cannot help."""


@dataclass(frozen=True)
class DetectOptions:
    detector: str = "hog"
    max_side: int = 1280
    upsample_max_pixels: int = 1_000_000


@dataclass(frozen=True)
class Candidate:
    person_id: int
    name: str
    distance: float


MATCH, UNKNOWN, AMBIGUOUS = "match", "unknown", "ambiguous"


@dataclass(frozen=True)
class FaceResult:
    box: Box
    encoding: np.ndarray = field(repr=False)
    candidates: tuple[Candidate, ...]
    tolerance: float
    margin: float = 0.0
    min_size: int = 0

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def verdict(self) -> str:
        """match, unknown (nobody within the tolerance) or ambiguous.

        Ambiguous: the second-nearest person is within `margin` of the nearest one,
        so naming either would be a coin toss.
        """
        best = self.best
        if best is None or best.distance > self.tolerance:
            return UNKNOWN
        if self.width < self.min_size:
            # Too few pixels for a trustworthy encoding: strangers' small faces in
            # crowd photos land near enrolled people.
            return UNKNOWN
        if len(self.candidates) > 1 and (
            self.candidates[1].distance - best.distance < self.margin
        ):
            return AMBIGUOUS
        return MATCH

    @property
    def width(self) -> int:
        return self.box[1] - self.box[3]

    @property
    def match(self) -> Candidate | None:
        """The nearest person when the verdict is a match, else None."""
        return self.best if self.verdict == MATCH else None

    @property
    def label(self) -> str:
        if self.match:
            return self.match.name
        return "Ambiguous" if self.verdict == AMBIGUOUS else "Unknown"


@dataclass(frozen=True)
class Recognition:
    width: int
    height: int
    faces: list[FaceResult]
    timings: dict[str, float]
    annotated_jpeg: bytes = field(repr=False)


# --- Load ---------------------------------------------------------------------


def load_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode image bytes to an RGB uint8 array with the EXIF orientation applied.

    Raises ImageError with a message fit for the user for an empty, unreadable,
    truncated, unsupported or oversized image.
    """
    if not data:
        raise ImageError("The file is empty.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageError(
                        f"The image is {width}×{height} = {width * height:,} pixels, "
                        f"over the limit of {max_pixels:,}."
                    )
                image.load()
                image = _apply_orientation(image)
                rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
        except ImageError:
            raise
        except UnidentifiedImageError:
            raise ImageError(
                "The file is not a supported image (JPEG, PNG or WebP)."
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageError(
                f"The image has more pixels than the limit of {max_pixels:,}."
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageError(f"The image could not be decoded ({exc}).") from None
    return np.ascontiguousarray(rgb)


def _apply_orientation(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not reject the pixels
        return image


def sniff_format(data: bytes) -> str | None:
    """The image format the bytes say they are (e.g. "JPEG"), or None if not allowed."""
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
            return image.format
    except Exception:  # noqa: BLE001 - any failure means "not an image we accept"
        return None


# --- Detect -------------------------------------------------------------------


DLIB_MODELS = ("hog", "cnn", "landmarks5", "landmarks68")


@functools.cache
def dlib_model(name: str) -> Any:  # noqa: ANN401 - dlib's classes have no stubs
    """One of dlib's models (DLIB_MODELS), loaded once per process on first use.

    The face_recognition package is not imported: it loads all of them at import
    (a worker needs the HOG detector and the 5-point landmarks, not the 68-point
    predictor's ~95 MB), and it turns on Pillow's LOAD_TRUNCATED_IMAGES for the
    whole process, which would let a truncated upload pass as an image. The boxes,
    landmarks and encodings are the same as its own.
    """
    import dlib
    import face_recognition_models as files

    if name == "hog":
        return dlib.get_frontal_face_detector()
    if name == "cnn":
        path = files.cnn_face_detector_model_location()
        return dlib.cnn_face_detection_model_v1(path)
    if name == "landmarks5":
        return dlib.shape_predictor(files.pose_predictor_five_point_model_location())
    if name == "landmarks68":
        return dlib.shape_predictor(files.pose_predictor_model_location())
    raise ValueError(f"Unknown dlib model {name!r}")


def _rectangle(box: Box) -> Any:  # noqa: ANN401
    import dlib

    top, right, bottom, left = box
    return dlib.rectangle(left, top, right, bottom)


@functools.cache
def _haar_cascade() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"OpenCV Haar cascade not found at {path}")
    return cascade


def load_models(detector: str = "hog") -> None:
    """Load the models a detector needs, so the first job does not pay for it."""
    if detector == "haar":
        _haar_cascade()
    else:
        dlib_model(detector)
    dlib_model("landmarks5")
    _encoder_network()


def detect_faces(rgb: np.ndarray, options: DetectOptions) -> list[Box]:
    """Find faces on a copy reduced to max_side; boxes are in original pixels."""
    if options.detector not in DETECTORS:
        raise ValueError(f"Unknown detector {options.detector!r}")
    height, width = rgb.shape[:2]
    scale = min(1.0, options.max_side / max(height, width))
    small = rgb
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    upsample = (
        1 if small.shape[0] * small.shape[1] <= options.upsample_max_pixels else 0
    )
    if options.detector == "haar":
        boxes = _detect_haar(small)
    else:
        found = dlib_model(options.detector)(small, upsample)
        rects = [d.rect for d in found] if options.detector == "cnn" else found
        boxes = [(r.top(), r.right(), r.bottom(), r.left()) for r in rects]
    # _scale_box also trims boxes that reach past the edges, as face_locations does.
    return [_scale_box(box, scale, width, height) for box in boxes]


def _detect_haar(rgb: np.ndarray) -> list[Box]:
    gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    found = _haar_cascade().detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30)
    )
    return [(int(y), int(x + w), int(y + h), int(x)) for (x, y, w, h) in found]


def _scale_box(box: Sequence[int], scale: float, width: int, height: int) -> Box:
    top, right, bottom, left = (round(v / scale) for v in box)
    return (
        max(0, min(top, height - 1)),
        max(0, min(right, width - 1)),
        max(0, min(bottom, height - 1)),
        max(0, min(left, width - 1)),
    )


# --- Encode -------------------------------------------------------------------


ENCODE_BATCH = 8  # faces a pass: the largest intermediate is ~3 MB a face


def encode_faces(rgb: np.ndarray, boxes: Sequence[Box]) -> list[np.ndarray]:
    """128-d encodings of the given faces, computed on the full-resolution image.

    The same numbers as face_recognition.face_encodings (5 landmarks, one 150 px
    chip a face, dlib's ResNet), with the ResNet run by recognition.encoder.
    """
    if not boxes:
        return []
    chips = face_chips(rgb, boxes)
    network = _encoder_network()
    return [
        encoding
        for start in range(0, len(chips), ENCODE_BATCH)
        for encoding in network.encode(chips[start : start + ENCODE_BATCH])
    ]


def face_chips(rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """(faces, 150, 150, 3): each face cut and aligned on its five landmarks, as
    dlib's encoder cuts it."""
    import dlib

    landmarks = dlib_model("landmarks5")
    return np.array(
        [
            dlib.get_face_chip(
                rgb,
                landmarks(rgb, _rectangle(box)),
                size=encoder.CHIP_SIZE,
                padding=encoder.CHIP_PADDING,
            )
            for box in boxes
        ]
    )


# face_recognition.face_landmarks' names for the points of each predictor.
LANDMARK_FEATURES = {
    5: {"nose_tip": [4], "left_eye": [2, 3], "right_eye": [0, 1]},
    68: {
        "chin": list(range(0, 17)),
        "left_eyebrow": list(range(17, 22)),
        "right_eyebrow": list(range(22, 27)),
        "nose_bridge": list(range(27, 31)),
        "nose_tip": list(range(31, 36)),
        "left_eye": list(range(36, 42)),
        "right_eye": list(range(42, 48)),
        "top_lip": [*range(48, 55), 64, 63, 62, 61, 60],
        "bottom_lip": [*range(54, 60), 48, 60, 67, 66, 65, 64],
    },
}


def face_landmarks(
    rgb: np.ndarray, boxes: Sequence[Box], points: int
) -> list[dict[str, list[tuple[int, int]]]]:
    """Per box, feature name → [(x, y), ...], as face_recognition.face_landmarks
    gives them (points: 5 or 68)."""
    predictor = dlib_model(f"landmarks{points}")
    shapes = [predictor(rgb, _rectangle(box)) for box in boxes]
    return [
        {
            name: [(shape.part(i).x, shape.part(i).y) for i in indices]
            for name, indices in LANDMARK_FEATURES[points].items()
        }
        for shape in shapes
    ]


@functools.cache
def _encoder_network() -> encoder.Network:
    import face_recognition_models

    return encoder.load(face_recognition_models.face_recognition_model_location())


# --- Match --------------------------------------------------------------------


MATCH_RULES = ("mean2", "nearest", "centroid")


class Gallery:
    """Enrolled encodings as one matrix, rows grouped by person for matching.

    The rule turns photo distances into a person's distance: `nearest` photo, `mean2`
    (the mean of the two nearest photos; the nearest when there is one) or `centroid`
    (the distance to the mean encoding). `manage.py evaluate` compares them.

    The matrix is float32 by default: matching streams the whole matrix from memory,
    so half the bytes is about twice the speed for a large gallery (100,000 photos:
    49 MB, ~6 ms a face), and distances stay within 0.0001 of float64's
    (benchmarks/gallery_matching.py checks both).
    """

    def __init__(
        self,
        rows: Iterable[tuple[int, str, np.ndarray]],
        rule: str = "mean2",
        tolerance: float | None = None,
        person_tolerances: dict[int, float] | None = None,
        dtype: type = np.float32,
    ) -> None:
        if rule not in MATCH_RULES:
            raise ValueError(f"Unknown matching rule {rule!r}")
        self.rule = rule
        # The calibrated tolerance (None: the caller's), and stricter ones per person.
        self.tolerance = tolerance
        self.person_tolerances = person_tolerances or {}
        ordered = sorted(rows, key=lambda row: row[0])
        self.names: dict[int, str] = {pid: name for pid, name, _ in ordered}
        if ordered:
            self.matrix = np.vstack(
                [np.asarray(enc, dtype=np.float64) for _, _, enc in ordered]
            )
            row_ids = np.array([pid for pid, _, _ in ordered], dtype=np.int64)
        else:
            self.matrix = np.empty((0, 128), dtype=np.float64)
            row_ids = np.empty(0, dtype=np.int64)
        self.person_ids, self.starts, counts = np.unique(
            row_ids, return_index=True, return_counts=True
        )
        if rule == "centroid" and len(self.matrix):
            self.matrix = (
                np.add.reduceat(self.matrix, self.starts, axis=0) / counts[:, None]
            )
            self.starts = np.arange(len(self.person_ids))
            counts = np.ones_like(counts)
        self.counts = counts
        self.matrix = np.ascontiguousarray(self.matrix, dtype=dtype)
        self.sq_norms = np.einsum("ij,ij->i", self.matrix, self.matrix)

    def __len__(self) -> int:
        return self.matrix.shape[0]

    @property
    def people_count(self) -> int:
        return len(self.person_ids)

    def photo_distances(self, encodings: np.ndarray) -> np.ndarray:
        """Distance from each encoding (F×128) to each row of the matrix."""
        encodings = np.atleast_2d(np.asarray(encodings, dtype=self.matrix.dtype))
        squared = (
            np.einsum("ij,ij->i", encodings, encodings)[:, None]
            + self.sq_norms[None, :]
            - 2.0 * encodings @ self.matrix.T
        )
        return np.sqrt(np.clip(squared, 0.0, None)).astype(np.float64, copy=False)

    def person_distances(self, encodings: np.ndarray) -> np.ndarray:
        """Distance from each encoding (F×128) to each person under the rule (F×P)."""
        distances = self.photo_distances(encodings)
        nearest = np.minimum.reduceat(distances, self.starts, axis=1)
        if self.rule != "mean2":
            return nearest
        # Second-nearest photo per person: hide each person's nearest and take the
        # minimum again (a tie leaves both hidden; then the second equals the first).
        hidden = np.where(
            distances == np.repeat(nearest, self.counts, axis=1), np.inf, distances
        )
        second = np.minimum.reduceat(hidden, self.starts, axis=1)
        second = np.where(np.isfinite(second), second, nearest)
        return (nearest + second) / 2.0


def match_faces(
    boxes: Sequence[Box],
    encodings: Sequence[np.ndarray],
    gallery: Gallery,
    tolerance: float,
    limit: int = 3,
    margin: float = 0.0,
    min_size: int = 0,
) -> list[FaceResult]:
    """Each face with its nearest people (at least two, for the ambiguity check)."""
    if len(encodings) == 0:
        return []
    if gallery.people_count == 0:
        return [
            FaceResult(b, e, (), tolerance, margin, min_size)
            for b, e in zip(boxes, encodings, strict=True)
        ]
    per_person = gallery.person_distances(np.vstack(encodings))
    nearest = nearest_columns(per_person, max(limit, 2))
    faces = []
    for box, encoding, row, columns in zip(
        boxes, encodings, per_person, nearest, strict=True
    ):
        candidates = tuple(
            Candidate(
                person_id=int(gallery.person_ids[i]),
                name=gallery.names[int(gallery.person_ids[i])],
                distance=round(float(row[i]), 4),
            )
            for i in columns
        )
        # A person calibrated stricter than the global tolerance keeps their own.
        own = gallery.person_tolerances.get(candidates[0].person_id, tolerance)
        faces.append(
            FaceResult(box, encoding, candidates, min(tolerance, own), margin, min_size)
        )
    return faces


def nearest_columns(distances: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the k smallest values, nearest first."""
    k = min(k, distances.shape[1])
    if k < distances.shape[1]:
        # A partial sort: O(P) instead of O(P log P) for a large gallery.
        part = np.argpartition(distances, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(k), (distances.shape[0], k))
    order = np.take_along_axis(distances, part, axis=1).argsort(axis=1)
    return np.take_along_axis(part, order, axis=1)


# --- Annotate -----------------------------------------------------------------

_KNOWN = (60, 180, 75)  # BGR green
_UNKNOWN = (40, 40, 220)  # BGR red
_AMBIGUOUS = (0, 150, 245)  # BGR orange


def annotate(rgb: np.ndarray, faces: Sequence[FaceResult]) -> bytes:
    """A JPEG of the image, each face boxed and labelled with name and distance."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    height, width = bgr.shape[:2]
    thickness = max(2, round(max(height, width) / 400))
    font_scale = max(0.5, max(height, width) / 1000)
    text_thickness = max(1, round(font_scale * 1.5))
    for face in faces:
        top, right, bottom, left = face.box
        color = {MATCH: _KNOWN, AMBIGUOUS: _AMBIGUOUS}.get(face.verdict, _UNKNOWN)
        cv2.rectangle(bgr, (left, top), (right, bottom), color, thickness)
        label = face.label
        if face.best is not None:
            label = f"{label} {face.best.distance:.2f}"
        (text_w, text_h), baseline = cv2.getTextSize(
            label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, text_thickness
        )
        y = bottom + text_h + baseline + 4
        if y > height:
            y = max(text_h + baseline + 4, top)
        cv2.rectangle(
            bgr, (left, y - text_h - baseline - 4), (left + text_w + 6, y), color, -1
        )
        cv2.putText(
            bgr,
            label,
            (left + 3, y - baseline - 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (255, 255, 255),
            text_thickness,
            cv2.LINE_AA,
        )
    ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise RuntimeError("OpenCV could not encode the annotated image")
    return buffer.tobytes()


# --- The whole pipeline -------------------------------------------------------


def recognize(
    data: bytes,
    gallery: Gallery,
    *,
    tolerance: float,
    detect: DetectOptions,
    max_pixels: int,
    limit: int = 3,
    margin: float = 0.0,
    min_size: int = 0,
) -> Recognition:
    """Run every stage on one image and time each of them (seconds)."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 4)
        clock = now

    rgb = load_image(data, max_pixels)
    lap("decode")
    boxes = detect_faces(rgb, detect)
    lap("detect")
    encodings = encode_faces(rgb, boxes)
    lap("encode")
    faces = match_faces(boxes, encodings, gallery, tolerance, limit, margin, min_size)
    lap("match")
    annotated = annotate(rgb, faces)
    lap("annotate")
    height, width = rgb.shape[:2]
    return Recognition(width, height, faces, timings, annotated)


def face_sharpness(rgb: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian of the face at 64×64 px: low means blurred.

    Faces are first brought to one size (down, for all but tiny faces) so that the
    figure does not depend on the photo's resolution.
    """
    top, right, bottom, left = box
    crop = cv2.cvtColor(rgb[top:bottom, left:right], cv2.COLOR_RGB2GRAY)
    crop = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


def overlap(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    inter = max(0, bottom - top) * max(0, right - left)
    area = (a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter
    return inter / area if area > 0 else 0.0


def encode_single_face(
    data: bytes, *, detect: DetectOptions, max_pixels: int
) -> tuple[Box, np.ndarray]:
    """The box and encoding of the one face in an enrolment photo.

    Raises ImageError when the image is unusable or holds no face or several faces.
    """
    rgb = load_image(data, max_pixels)
    boxes = detect_faces(rgb, detect)
    if not boxes:
        raise ImageError("No face was found in this photo.")
    if len(boxes) > 1:
        raise ImageError(
            f"{len(boxes)} faces were found in this photo; "
            "an enrolment photo must show exactly one."
        )
    (encoding,) = encode_faces(rgb, boxes)
    return boxes[0], encoding
