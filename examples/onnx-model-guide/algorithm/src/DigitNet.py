"""DigitNet: predicts the digits in 8x8 images with a small neural network exported to ONNX.

Input:  {"test_data": "data://<owner>/<collection>/test.csv"}   a CSV of images, 64 pixel values (0-16) a line
        or {"images": [[64 numbers], ...]}                        the images themselves
Output: the predicted labels, e.g. [2, 0, 9, 0, 3, 7, 0, 3, 0, 3]

The network is loaded once per worker, before the first call (Algorithmia's "preloading"), by Algorithmia's ADK
from the data URI that model_manifest.json names, and refused unless its md5 is the one frozen in
model_manifest.json.freeze (`fail_on_tamper`). onnxruntime runs it on the GPU when the installed onnxruntime
offers CUDA and the worker sees a GPU (the algorithm's `gpu` environment), else on the CPU; `apply` reports
nothing else, and every call answers from the same session.
"""
import os

import Algorithmia
import numpy as np
import onnxruntime
from Algorithmia import ADK
from Algorithmia.errors import AlgorithmException

PIXELS = 64

client = Algorithmia.client()


def load(model_data):
    # ModelData has fetched and checked the manifest's files; "model" is the key of the Algorithm's modelFiles.
    path = model_data.get_model("model")
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)  # the session is all a worker keeps
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", None) != ""
    wanted = (["CUDAExecutionProvider"] if gpu else []) + ["CPUExecutionProvider"]
    return onnxruntime.InferenceSession(data, providers=[p for p in wanted if p in onnxruntime.get_available_providers()])


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


def apply(input, session):
    labels = session.run(None, {session.get_inputs()[0].name: images_of(input)})[0]
    return [int(label) for label in labels]


# Loads the network, then serves the platform's requests (algorithmia-local's worker finds `algorithm` and calls apply).
algorithm = ADK(apply, load, client)
algorithm.init()
