from __future__ import annotations

import uuid

import pytest

from recognition import gallery, review
from recognition.enrollment import enroll_photo
from recognition.models import FaceObservation, Job, Person
from recognition.tasks import process_job, rematch_unknown_faces
from recognition.uploads import create_job

pytestmark = pytest.mark.django_db


def run_job(data: bytes, **fields) -> Job:
    job = create_job(data, "photo.jpg", uuid.uuid4())
    Job.objects.filter(pk=job.pk).update(**fields)
    process_job(job.pk)
    return Job.objects.get(pk=job.pk)


@pytest.fixture
def eileen(astronaut_face_jpeg):
    person = Person.objects.create(name="Eileen Collins")
    enroll_photo(person, astronaut_face_jpeg)
    return person


def test_every_face_of_a_job_is_kept_with_its_encoding(eileen, astronaut_jpeg):
    job = run_job(astronaut_jpeg)
    observations = list(job.observations.order_by("index"))
    assert len(observations) == len(job.faces) == 2
    named = [o for o in observations if o.person_id]
    assert [o.person for o in named] == [eileen]
    assert all(len(bytes(o.encoding)) == 128 * 8 for o in observations)
    assert [o.verdict for o in observations] == [f["verdict"] for f in job.faces]


def test_a_face_near_the_threshold_waits_for_review_and_can_be_confirmed(
    eileen, astronaut_jpeg
):
    # The suit "face" is 0.73 from Eileen: with a tolerance of 0.70 it is a match
    # only just, and goes to review.
    job = run_job(astronaut_jpeg, tolerance=0.70)
    pending = FaceObservation.objects.get(review=FaceObservation.Review.PENDING)
    assert pending.candidate == eileen
    review.reject(pending)
    pending.refresh_from_db()
    assert pending.review == FaceObservation.Review.REJECTED
    assert list(pending.rejected_people.all()) == [eileen]
    confirmed = FaceObservation.objects.get(job=job, person=eileen, distance__lt=0.1)
    assert confirmed.review == FaceObservation.Review.NONE


def test_confirming_a_face_names_it_in_the_job(eileen, astronaut_jpeg):
    job = run_job(astronaut_jpeg, tolerance=0.70)
    observation = FaceObservation.objects.get(review=FaceObservation.Review.PENDING)
    Job.objects.filter(pk=job.pk).update(recognized_name="")
    review.confirm(observation)
    job.refresh_from_db()
    face = job.faces[observation.index]
    assert (face["name"], face["verdict"], face["reviewed"]) == (
        "Eileen Collins",
        "match",
        True,
    )
    assert job.recognized_name == "Eileen Collins"


def test_unknown_faces_are_identified_when_the_person_is_enrolled(
    astronaut_jpeg, astronaut_face_jpeg
):
    job = run_job(astronaut_jpeg)  # nobody enrolled yet
    assert job.recognized_name == ""
    eileen = Person.objects.create(name="Eileen Collins")
    enroll_photo(eileen, astronaut_face_jpeg)
    gallery.invalidate()

    assert rematch_unknown_faces() == {"identified": 1}
    job.refresh_from_db()
    named = [f for f in job.faces if f["name"]]
    assert [f["name"] for f in named] == ["Eileen Collins"]
    assert named[0]["identified_later"] is True
    assert job.recognized_name == "Eileen Collins"
    assert FaceObservation.objects.get(person=eileen).identified_later
    # Twice changes nothing.
    assert rematch_unknown_faces() == {"identified": 0}


def test_a_rejected_pairing_is_never_proposed_again(
    astronaut_jpeg, astronaut_face_jpeg
):
    run_job(astronaut_jpeg)
    eileen = Person.objects.create(name="Eileen Collins")
    enroll_photo(eileen, astronaut_face_jpeg)
    gallery.invalidate()
    (her_face,) = [
        o for o in FaceObservation.objects.all() if o.box == [76, 265, 166, 175]
    ]
    for observation in FaceObservation.objects.all():
        observation.rejected_people.add(eileen)
    assert review.rematch_unknown_faces() == 0
    her_face.refresh_from_db()
    assert her_face.person is None


def test_confirming_can_add_the_face_to_the_persons_photos(eileen, astronaut_jpeg):
    job = run_job(astronaut_jpeg)
    (her_face,) = FaceObservation.objects.filter(job=job, person=eileen)
    review.confirm(her_face, enrol=True)
    faces = list(eileen.faces.order_by("pk"))
    assert len(faces) == 2
    assert faces[1].source_name == f"job {job.pk} face {her_face.index}"


def test_a_face_whose_photo_is_gone_is_not_confirmed(eileen, astronaut_jpeg):
    from django.core.files.storage import default_storage

    from recognition.enrollment import EnrollmentError

    job = run_job(astronaut_jpeg, tolerance=0.70)
    suit = FaceObservation.objects.get(job=job, review=FaceObservation.Review.PENDING)
    default_storage.delete(job.image.name)
    with pytest.raises(EnrollmentError, match="no longer stored"):
        review.confirm(suit, enrol=True)
    suit.refresh_from_db()
    assert suit.review == FaceObservation.Review.PENDING  # rolled back as a whole
    assert eileen.faces.count() == 1
