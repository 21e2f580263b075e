"""The OpenAPI contract: valid, served, documented without a CDN, and kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return path


def test_the_schema_is_valid_without_warnings(schema_file):
    schema = yaml.safe_load(schema_file.read_text())

    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/recognitions",
        "/api/v1/recognitions/{id}",
        "/api/v1/recognitions/{id}/annotated",
        "/api/v1/detections",
        "/api/v1/verify",
        "/api/v1/people",
        "/api/v1/people/{id}",
        "/api/v1/people/{id}/faces",
        "/api/v1/people/{id}/faces/{face_id}",
        "/api/v1/people/{id}/merge",
    }
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == (
        "Authorization"
    )


def test_every_operation_documents_the_error_shape(schema_file):
    schema = yaml.safe_load(schema_file.read_text())

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("401", "403", "429"):
                ref = responses[status]["content"]["application/json"]["schema"]
                assert ref == {"$ref": "#/components/schemas/Error"}, (path, method)


def test_uploads_are_multipart(schema_file):
    schema = yaml.safe_load(schema_file.read_text())

    for path in ("/api/v1/recognitions", "/api/v1/detections", "/api/v1/verify"):
        content = schema["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == {"multipart/form-data"}


def test_the_schema_is_served(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/recognitions" in response.content


def test_the_docs_need_no_cdn(client):
    response = client.get("/api/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "swagger-ui" in html
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", html)
    assert external == []
    bundle = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert f'src="/static/{bundle}"' in html
    assert finders.find(bundle)  # shipped by drf-spectacular-sidecar


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/recognitions",
        "/api/v1/recognitions/1",
        "/api/v1/recognitions/1/annotated",
        "/api/v1/detections",
        "/api/v1/verify",
        "/api/v1/people",
        "/api/v1/people/1",
        "/api/v1/people/1/faces",
        "/api/v1/people/1/faces/1",
        "/api/v1/people/1/merge",
    ],
)
@pytest.mark.parametrize("slash", ["", "/"])
def test_every_path_answers_with_and_without_a_slash(client, path, slash):
    # Without credentials every endpoint answers 401, the catch-all 404 would not.
    assert client.options(path + slash).status_code == 401
