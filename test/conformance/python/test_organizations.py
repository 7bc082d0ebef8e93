# The organization routes through the official client, with an admin key: types, create, get, edit, invite; and
# the error logs a member reads through it.
import pytest


def test_organization_lifecycle(admin_client, client, user, unique):
    types = admin_client.get_org_types()
    assert [t["name"] for t in types] == ["basic", "legacy", "pro"]
    type_ids = {t["name"]: t["id"] for t in types}

    # As the client's own tests do: the type by name, which the client turns into its id.
    name = unique("org")
    created = admin_client.create_org({"org_name": name, "org_label": "some label", "org_contact_name": "Some owner",
                                       "org_email": name + "@algo.com", "type_id": "basic"})
    assert created["org_name"] == name
    assert created["type_id"] == type_ids["basic"]
    assert created["resource_type"] == "organization"

    got = admin_client.get_org(name)
    assert got == created

    # The client's edit sends the object back (read-only fields included) and answers the bare 204 response.
    edited = admin_client.edit_org(name, dict(got, org_label="new label", org_url="https://algorithmia.com", type_id="pro"))
    assert edited.status_code == 204
    after = admin_client.get_org(name)
    assert (after["org_label"], after["org_url"], after["type_id"]) == ("new label", "https://algorithmia.com", type_ids["pro"])

    # Before the invite the user may not read the organization's error log; after it, it reads an empty one.
    assert client.get_organization_errors(name)["error"]["code"] == 2001
    assert admin_client.invite_to_org(name, user).status_code == 201
    assert admin_client.invite_to_org(name, user).status_code == 200
    assert client.get_organization_errors(name) == []
    assert isinstance(client.get_user_errors(user), list)


def test_refusals(admin_client, client, unique):
    # An unknown type name reaches the server as an empty type_id, which it refuses.
    with pytest.raises(Exception):
        admin_client.create_org({"org_name": unique("org"), "org_label": "l", "org_contact_name": "c",
                                 "org_email": "c@algo.com", "type_id": "nope"})
    assert admin_client.get_org("nosuchorg")["error"]["code"] == 3100
    # The organization routes take an admin key, and an admin key only them.
    assert client.get_org("team")["error"]["code"] == 2001
    assert admin_client.get_organization_errors("team")["error"]["code"] == 2001
