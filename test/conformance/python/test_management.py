# The management API through the official client: create, update, compile, builds, publish, versions, info,
# error logs, secrets, environments and SCMs.
import json
import os

import pytest
from Algorithmia.errors import AlgorithmException

from conftest import SETTINGS


def test_full_lifecycle(client, user, unique):
    name = unique("lifecycle")
    algo = client.algo(user + "/" + name)
    assert algo.exists() is False

    created = algo.create(details={"label": "Lifecycle", "summary": "s", "tagline": "t"}, settings=SETTINGS,
                          version_info={"sample_input": "world"})
    assert created["name"] == name
    assert created["resource_type"] == "algorithm"
    assert created["settings"]["algorithm_callability"] == "private"
    assert created["source"]["scm"]["id"] == "internal"
    assert algo.exists() is True
    assert algo.get_algorithm_id() == created["id"]

    compiled = algo.compile()
    git_hash = compiled["version_info"]["git_hash"]
    assert len(git_hash) == 40
    assert compiled["compilation"]["successful"] is True

    builds = algo.get_builds()
    assert builds["results"][0]["commit_sha"] == git_hash
    build_id = builds["results"][0]["build_id"]
    assert algo.get_build(build_id)["status"] == "succeeded"
    assert "Build succeeded" in algo.get_build_logs(build_id)["logs"]

    # As the client's own integration test does: publish through an algo reference that names the hash.
    published = client.algo(user + "/" + name + "/" + git_hash).publish(
        details={"label": "testing123"},
        settings={"algorithm_callability": "private"},
        version_info={"release_notes": "created programmatically", "sample_input": "John", "version_type": "minor"},
    )
    assert published["version_info"]["semantic_version"] == "0.1.0"
    assert algo.info(git_hash)["version_info"]["semantic_version"] == "0.1.0"
    assert algo.info()["results"][0]["resource_type"] == "algorithm"

    # Publishing the same build again is refused (1007); the client retries once, then raises.
    with pytest.raises(Exception):
        algo.publish(version_info={"version_type": "minor"})

    # Compiling again builds the same head of master: the same git hash, a new build that can be published.
    second = algo.compile()
    assert second["version_info"]["git_hash"] == git_hash
    assert second["build"]["build_id"] != compiled["build"]["build_id"]
    assert algo.publish(version_info={"version_type": "revision"})["version_info"]["semantic_version"] == "0.1.1"

    versions = algo.versions(published=True)
    assert [v["version_info"]["semantic_version"] for v in versions["results"]] == ["0.1.1", "0.1.0"]
    assert versions["marker"] is None
    page = algo.versions(limit=1, published=True)
    assert len(page["results"]) == 1 and page["marker"]
    rest = algo.versions(limit=1, marker=page["marker"], published=True)
    assert rest["results"][0]["version_info"]["semantic_version"] == "0.1.0"

    assert algo.get_scm_status()["scm_connection_status"] == "active"


def test_update(client, user, unique):
    name = unique("update")
    algo = client.algo(user + "/" + name)
    algo.create(details={"label": "Before"}, settings=SETTINGS)

    # With nothing to change, the client sends empty objects (as a form): the algorithm comes back unchanged.
    assert algo.update()["details"]["label"] == "Before"

    # Algorithm.update() form-encodes its dicts, which drops their values; the server refuses rather than guess.
    with pytest.raises(Exception):
        algo.update(details={"label": "After"})

    # The same update as JSON, through the client's own PUT helper.
    url = "/v1/algorithms/" + user + "/" + name
    body = {"details": {"label": "After"}, "settings": {"network_access": "full"}}
    updated = client.putHelper(url, json.dumps(body))
    assert updated["details"]["label"] == "After"
    assert updated["settings"]["network_access"] == "full"
    assert updated["settings"]["license"] == "apl"


def test_errors(client, other_client, user, unique):
    name = unique("private")
    algo = client.algo(user + "/" + name)
    algo.create(details={"label": "Private"}, settings=SETTINGS)

    # On a non-2xx reply to a POST the client does not read the body: it raises a generic failure naming the status.
    with pytest.raises(Exception, match="400"):
        algo.create(details={"label": "Again"}, settings=SETTINGS)
    with pytest.raises(Exception, match="400"):
        client.algo(user + "/" + unique("bad")).create(details={"label": "x"}, settings=dict(SETTINGS, license="bsd"))

    # GET errors are parsed: the unknown-algorithm body is the legacy string form.
    with pytest.raises(AlgorithmException) as error:
        client.getJsonHelper("/v1/algorithms/" + user + "/" + unique("missing"))
    assert error.value.message == "No such algorithm"

    # Another user may not look at a private algorithm.
    with pytest.raises(AlgorithmException) as error:
        other_client.algo(user + "/" + name).exists()
    assert "not authorized" in error.value.message


def test_error_log(client, other_client, user, unique):
    algo = client.algo(user + "/" + unique("errorlog"))
    algo.create(details={"label": "Error log"}, settings=SETTINGS)
    # By algorithm UUID, through the client's JSON helper: a list (no failed calls yet), errors raised.
    assert client.get_algorithm_errors(algo.get_algorithm_id()) == []
    with pytest.raises(AlgorithmException) as error:
        other_client.get_algorithm_errors(algo.get_algorithm_id())
    assert "not authorized" in error.value.message
    with pytest.raises(AlgorithmException):
        client.get_algorithm_errors("00000000-0000-4000-8000-000000000000")


def test_org_algorithm(client, unique):
    org = os.environ["ALGORITHMIA_ORG"]
    algo = client.algo(org + "/" + unique("orgalgo"))
    assert algo.create(details={"label": "Org"}, settings=SETTINGS)["name"]
    assert algo.compile()["compilation"]["successful"] is True


def test_secrets(client, user, unique):
    name = unique("secrets")
    algo = client.algo(user + "/" + name)
    algo.create(details={"label": "Secrets"}, settings=SETTINGS)
    providers = client.get_secret_providers()
    assert providers[0]["name"] == "algorithmia_internal_secret_provider"

    created = algo.set_secret("token", "API_TOKEN", "s3cr3t", description="a token")
    assert created["secret_key"] == "API_TOKEN"
    listed = algo.get_secrets()
    assert [s["secret_key"] for s in listed["secrets"]] == ["API_TOKEN"]
    assert "s3cr3t" not in json.dumps(listed)


def test_environments_and_scms(client, tmp_path):
    languages = client.get_supported_languages()
    assert any("anaconda3" in language["name"] for language in languages)
    environments = client.get_environment("python3")["environments"]
    python39 = [e for e in environments if e["display_name"] == "Python 3.9"][0]

    response = client.get_template(python39["environment_specification_id"], str(tmp_path))
    assert response.ok
    assert (tmp_path / "algorithmia.conf").exists()
    assert "def apply" in (tmp_path / "src" / "algoname.py").read_text()

    assert client.scms()["results"][0]["id"] == "internal"


def test_environment_algorithm(client, user, unique):
    environments = client.get_environment("python3")["environments"]
    env = [e for e in environments if e["display_name"] == "Python 3.8"][0]
    algo = client.algo(user + "/" + unique("envalgo"))
    settings = {"source_visibility": "open", "algorithm_environment": env["id"], "license": "mit",
                "network_access": "isolated", "pipeline_enabled": False}
    created = algo.create(details={"label": "Env"}, settings=settings)
    assert created["settings"]["package_set"] == "python38"
    assert created["settings"]["algorithm_environment"] == env["id"]
    assert algo.compile()["compilation"]["successful"] is True
