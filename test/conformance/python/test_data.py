# The Data API through the official client: collections, files, listing, ACLs and deletes.
import pytest
from Algorithmia.acl import AclType, ReadAcl
from Algorithmia.errors import DataApiError


def test_files_and_directories(client, user, unique):
    name = unique("coll")
    directory = client.dir("data://.my/" + name)
    assert directory.exists() is False
    directory.create()
    assert directory.exists() is True
    assert client.dir("data://" + user + "/" + name).exists() is True

    text = client.file("data://.my/" + name + "/hello.txt")
    assert text.exists() is False
    text.put("hello world")
    assert text.exists() is True
    assert text.getString() == "hello world"

    client.file("data://.my/" + name + "/data.json").putJson({"a": [1, 2]})
    assert client.file("data://.my/" + name + "/data.json").getJson() == {"a": [1, 2]}
    client.file("data://.my/" + name + "/bytes.bin").put(b"\x00\x01\xff")
    assert client.file("data://.my/" + name + "/bytes.bin").getBytes() == b"\x00\x01\xff"

    names = sorted(f.getName() for f in directory.files())
    assert names == ["bytes.bin", "data.json", "hello.txt"]
    assert name in [d.getName() for d in client.dir("data://.my").dirs()]

    text.delete()
    assert text.exists() is False
    with pytest.raises(DataApiError):
        directory.delete()  # not empty, no force
    directory.delete(force=True)
    assert directory.exists() is False


def test_acls(client, unique):
    directory = client.dir("data://.my/" + unique("acl"))
    directory.create()
    assert directory.get_permissions().read_acl == AclType.my_algos
    directory.update_permissions(ReadAcl.public)
    assert directory.get_permissions().read_acl == AclType.public
    directory.update_permissions(ReadAcl.private)
    assert directory.get_permissions().read_acl == AclType.private

    created = client.dir("data://.my/" + unique("aclp"))
    created.create(ReadAcl.public)
    assert created.get_permissions().read_acl == AclType.public


def test_other_users_private_collection(client, other_client, user, unique):
    name = unique("priv")
    directory = client.dir("data://.my/" + name)
    directory.create(ReadAcl.private)
    client.file("data://.my/" + name + "/secret.txt").put("x")
    assert other_client.file("data://" + user + "/" + name + "/secret.txt").exists() is False


def test_username_is_the_first_folder_of_the_root(client, other_client, user, unique):
    # client.username() takes the first folder of the root listing: the caller's own name, whatever it owns.
    client.dir("data://.my/" + unique("aaa")).create()
    assert client.username() == user
    assert other_client.username() != user
    names = [d.path for d in client.dir("").dirs()]
    assert names[0] == user and "team" in names
