"""The model guide as a Python program: the same collection, model files, algorithm and tested, published version
as ../model-guide (TypeScript), through the provider plugin pulumi-resource-algorithmia and the pulumi_algorithmia
SDK generated from its schema. It deploys the TypeScript guide's own algorithm source and model, and reads what it
hosts from ../model-guide/guide.json, so both programs publish the same build.

Config (all optional), as the TypeScript guide's:
    algorithmia:apiAddress   the API (default $ALGORITHMIA_API)
    algorithmia:apiKey       a secret (default $ALGORITHMIA_API_KEY)
    owner                    user or organization owning everything (default the key's own user)
    collection               data collection name (default "digits")
    algorithm                algorithm name (default "DigitClassifier"; its entry module is src/<name>.py)
    adopt                    true: take over an algorithm of that name that already exists
"""

import json
import os
import re

import pulumi
import pulumi_algorithmia as algorithmia

GUIDE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model-guide")
with open(os.path.join(GUIDE_DIR, "guide.json"), encoding="utf-8") as f:
    GUIDE = json.load(f)


def snake_case(fields: dict) -> dict:
    """guide.json's camelCase names as the SDK's keyword arguments."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(): value for name, value in fields.items()}


def guide_file(*parts: str) -> str:
    return os.path.normpath(os.path.join(GUIDE_DIR, *parts))


config = pulumi.Config()
owner = config.get("owner")

# 1. Where the model lives: only the owner's algorithms may read it.
collection = algorithmia.DataCollection(
    "model-collection",
    name=config.get("collection") or "digits",
    owner=owner,
    read_acl="myAlgorithms",
)

# 2. The saved model and a test file, uploaded (again only when their bytes change).
model = algorithmia.ModelFile(
    "model",
    collection=collection.data_uri,
    name="digits-svc.joblib",
    source=pulumi.FileAsset(guide_file("model", "digits-svc.joblib")),
)
test_data = algorithmia.ModelFile(
    "test-data",
    collection=collection.data_uri,
    name="test.csv",
    source=pulumi.FileAsset(guide_file("model", "test.csv")),
)

# 3. The algorithm; `model_files` becomes the ADK's frozen model manifest in its repository, so a new model is a
#    new build. Algorithmia never deletes an algorithm with a public version: `destroy` leaves it on the server.
algorithm = algorithmia.Algorithm(
    "digit-classifier",
    name=config.get("algorithm") or GUIDE["algorithmName"],
    owner=owner,
    details=algorithmia.AlgorithmDetailsArgs(**GUIDE["details"]),
    settings=algorithmia.AlgorithmSettingsArgs(**snake_case(GUIDE["settings"])),
    source=guide_file("algorithm"),
    dependencies=GUIDE["dependencies"],
    model_files={
        "model": algorithmia.ModelBindingArgs(data_uri=model.data_uri, sha256=model.sha256, md5=model.md5),
    },
    adopt=config.get_bool("adopt"),
    opts=pulumi.ResourceOptions(retain_on_delete=True),
)

# 4. Publish: public, royalty-free, after the known input gives the known answer.
sample_input = test_data.data_uri.apply(lambda uri: json.dumps({"test_data": uri}, separators=(",", ":")))
version = algorithmia.AlgorithmVersion(
    "published",
    algorithm=algorithm.algo_path,
    git_hash=algorithm.git_hash,
    # What the version carries: the preview checks a permission change against the published versions.
    algorithm_settings=algorithm.settings,
    version_type="minor",
    callability="public",
    royalty_microcredits=0,
    release_notes=GUIDE["releaseNotes"],
    sample_input=sample_input,
    tests=[
        algorithmia.AlgorithmTestArgs(input={"test_data": test_data.data_uri}, expect=GUIDE["expectedLabels"]),
        algorithmia.AlgorithmTestArgs(input={"images": [[0, 1, 2]]}, expect_error=True),
    ],
)

# Where the algorithm is (`<api>/v1/algo/owner/name`, resolved by the provider from its whole configuration).
api_address = algorithm.api_url.apply(lambda url: re.sub(r"/v1/algo/.*$", "", url))
endpoint = pulumi.Output.concat(api_address, "/v1/algo/", version.algo_uri)

pulumi.export("modelUri", model.data_uri)
pulumi.export("modelSha256", model.sha256)
pulumi.export("testDataUri", test_data.data_uri)
pulumi.export("gitHash", version.git_hash)
pulumi.export("sourceSha256", algorithm.source_sha256)
pulumi.export("version", version.version)
pulumi.export("testsPassed", version.tests_passed)
# How to call the model.
pulumi.export("algoUri", version.algo_uri)
pulumi.export("endpoint", endpoint)
pulumi.export("sampleInput", sample_input)
pulumi.export(
    "callWithCurl",
    pulumi.Output.format(
        "curl -s -X POST -H \"Authorization: Simple $ALGORITHMIA_API_KEY\" -H \"Content-Type: application/json\" "
        "-d '{0}' {1}",
        sample_input,
        endpoint,
    ),
)
