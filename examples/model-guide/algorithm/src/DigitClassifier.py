"""DigitClassifier: predicts the digits in 8x8 images with a scikit-learn model hosted in a data collection.

Input:  {"test_data": "data://<owner>/<collection>/test.csv"}   a CSV of images, 64 pixel values (0-16) a line
        or {"images": [[64 numbers], ...]}                        the images themselves
Output: the predicted labels, e.g. [2, 0, 9, 0, 3, 7, 0, 3, 0, 3]

The model is loaded once per worker, before the first apply() (Algorithmia's "preloading"), by Algorithmia's
ADK: the provider writes the ADK's model_manifest.json at the repository root, naming the model's data URI, and
freezes it into model_manifest.json.freeze with the model's md5 and `fail_on_tamper`. The ADK's ModelData
downloads the file through the Algorithmia client (which the platform points at its own API and authenticates as
the algorithm's owner) and refuses a model whose md5 is not the frozen one, so a build can only ever serve the
exact model it was built for.
"""
import os

import Algorithmia
import joblib
import numpy as np
from Algorithmia import ADK
from Algorithmia.errors import AlgorithmException

PIXELS = 64

client = Algorithmia.client()


def load(model_data):
    # ModelData has fetched and checked the manifest's files; "model" is the key of the Algorithm's modelFiles.
    path = model_data.get_model("model")
    try:
        return joblib.load(path)
    finally:
        os.remove(path)  # the unpickled model is all a worker keeps


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


def apply(input, model):
    return [int(label) for label in model.predict(read_images(input))]


# Loads the model, then serves the platform's requests (algorithmia-local's worker finds `algorithm` and calls apply).
algorithm = ADK(apply, load, client)
algorithm.init()
