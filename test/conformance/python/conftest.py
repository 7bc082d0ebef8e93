# Shared fixtures: clients for the test user (alice, member of org "team"), for another user (bob) and with an
# admin key (for the organization routes).
import os
import uuid

import Algorithmia
import pytest

SETTINGS = {
    "language": "python3-1",
    "environment": "cpu",
    "license": "apl",
    "source_visibility": "closed",
    "network_access": "isolated",
    "pipeline_enabled": False,
}


@pytest.fixture(scope="session")
def client():
    return Algorithmia.client(os.environ["ALGORITHMIA_API_KEY"], os.environ["ALGORITHMIA_API"])


@pytest.fixture(scope="session")
def other_client():
    return Algorithmia.client(os.environ["ALGORITHMIA_OTHER_API_KEY"], os.environ["ALGORITHMIA_API"])


@pytest.fixture(scope="session")
def admin_client():
    return Algorithmia.client(os.environ["ALGORITHMIA_ADMIN_API_KEY"], os.environ["ALGORITHMIA_API"])


@pytest.fixture(scope="session")
def user():
    return os.environ["ALGORITHMIA_USER"]


@pytest.fixture
def unique():
    return lambda prefix: prefix + uuid.uuid4().hex[:10]
