"""DigitClassifier: predicts the digits in 8x8 images with a scikit-learn model hosted in a data collection.

Input:  {"test_data": "data://<owner>/<collection>/test.csv"}   a CSV of images, 64 pixel values (0-16) a line
        or {"images": [[64 numbers], ...]}                        the images themselves
Output: the predicted labels, e.g. [2, 0, 9, 0, 3, 7, 0, 3, 0, 3]

The model is loaded once, when the worker imports this module, before the first apply() (Algorithmia's
"preloading"): the provider writes model-manifest.json at the repository root, naming the model's data URI and
sha256, and the file is fetched through the Algorithmia client (which the platform points at its own API and
authenticates as the algorithm's owner). A model whose bytes do not match the manifest refuses to load, so a
build can only ever serve the exact model it was built for.
"""
import hashlib
import json
import os

import Algorithmia
import joblib
import numpy as np
from Algorithmia.errors import AlgorithmException

MANIFEST = os.path.join(os.path.dirname(__file__), "..", "model-manifest.json")
PIXELS = 64

client = Algorithmia.client()


def load_model():
    with open(MANIFEST) as f:
        entry = json.load(f)["model"]
    path = client.file(entry["dataUri"]).getFile(as_path=True)
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest != entry["sha256"]:
            raise AlgorithmException(
                "model %s has sha256 %s, the manifest expects %s" % (entry["dataUri"], digest, entry["sha256"]),
                error_type="InitializationError")
        return joblib.load(path)
    finally:
        os.remove(path)


MODEL = load_model()


def input_error(message):
    return AlgorithmException(message, error_type="InputError")


def read_images(input):
    if not isinstance(input, dict) or not ("test_data" in input or "images" in input):
        raise input_error('expected {"test_data": "data://owner/collection/file.csv"} or {"images": [[64 pixels], ...]}')
    if "test_data" in input:
        uri = input["test_data"]
        if not isinstance(uri, str) or not uri.startswith("data://"):
            raise input_error("test_data must be a data:// URI, got %r" % (uri,))
        text = client.file(uri).getString()
        rows = [line for line in text.splitlines() if line.strip()]
        try:
            images = np.array([[float(v) for v in line.split(",")] for line in rows])
        except ValueError as e:
            raise input_error("%s is not a CSV of numbers: %s" % (uri, e))
    else:
        try:
            images = np.array(input["images"], dtype=float)
        except (TypeError, ValueError) as e:
            raise input_error("images must be a list of lists of numbers: %s" % e)
    if images.ndim != 2 or images.shape[1] != PIXELS or len(images) == 0:
        raise input_error("each image needs %d pixel values; got an array of shape %s" % (PIXELS, images.shape))
    return images


def apply(input):
    return [int(label) for label in MODEL.predict(read_images(input))]
