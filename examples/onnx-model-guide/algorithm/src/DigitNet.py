"""DigitNet: predicts the digits in 8x8 images with a small neural network exported to ONNX.

Input:  {"test_data": "data://<owner>/<collection>/test.csv"}   a CSV of images, 64 pixel values (0-16) a line
        or {"images": [[64 numbers], ...]}                        the images themselves
Output: the predicted labels, e.g. [2, 0, 9, 0, 3, 7, 0, 3, 0, 3]

The network is loaded once per worker, at import (Algorithmia's "preloading"), from the data URI that
model-manifest.json names, and refused unless its sha256 is the manifest's. onnxruntime runs it on the GPU when
the installed onnxruntime offers CUDA and the worker sees a GPU (the algorithm's `gpu` environment), else on
the CPU; `apply` reports nothing else, and every call answers from the same session.
"""
import hashlib
import json
import os

import Algorithmia
import numpy as np
import onnxruntime
from Algorithmia.errors import AlgorithmException

MANIFEST = os.path.join(os.path.dirname(__file__), "..", "model-manifest.json")
PIXELS = 64

client = Algorithmia.client()


def load_session():
    with open(MANIFEST) as f:
        entry = json.load(f)["model"]
    data = client.file(entry["dataUri"]).getBytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        raise AlgorithmException("model %s has sha256 %s, the manifest expects %s" % (entry["dataUri"], digest, entry["sha256"]),
                                 error_type="InitializationError")
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", None) != ""
    wanted = (["CUDAExecutionProvider"] if gpu else []) + ["CPUExecutionProvider"]
    return onnxruntime.InferenceSession(data, providers=[p for p in wanted if p in onnxruntime.get_available_providers()])


SESSION = load_session()
INPUT = SESSION.get_inputs()[0].name


def images_of(input):
    if not isinstance(input, dict) or not ("test_data" in input or "images" in input):
        raise AlgorithmException('expected {"test_data": "data://owner/collection/file.csv"} or {"images": [[64 pixels], ...]}',
                                 error_type="InputError")
    uri = input.get("test_data")
    if "test_data" in input and not (isinstance(uri, str) and uri.startswith("data://")):
        raise AlgorithmException("test_data must be a data:// URI, got %r" % (uri,), error_type="InputError")
    try:
        if "test_data" in input:
            images = np.loadtxt(client.file(uri).getString().splitlines(), delimiter=",", ndmin=2)
        else:
            images = np.array(input["images"], dtype=float)
    except (TypeError, ValueError, AttributeError) as e:
        raise AlgorithmException("the images are not numbers: %s" % e, error_type="InputError")
    if images.ndim != 2 or images.shape[1] != PIXELS or len(images) == 0:
        raise AlgorithmException("each image needs %d pixel values; got an array of shape %s" % (PIXELS, images.shape),
                                 error_type="InputError")
    return images.astype(np.float32)


def apply(input):
    labels = SESSION.run(None, {INPUT: images_of(input)})[0]
    return [int(label) for label in labels]
