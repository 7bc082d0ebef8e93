"""Trains the ONNX model guide's digit network and exports it to ONNX.

    python train.py [OUT_DIR]        (default: the directory of this script; needs requirements.txt)

writes OUT_DIR/digits-mlp.onnx: a small neural network (64 pixels -> 64 ReLU units -> 10 digits, with the pixel
scaling inside the graph) for scikit-learn's bundled 8x8 digits (1797 images, shipped inside the package;
nothing is downloaded), trained on the first half as the model guide's SVC is, and exported by skl2onnx to
ONNX, the format Algorithmia's deep-learning guide exported CNTK networks to (CNTK has no wheels for current
Python). The algorithm runs it with onnxruntime alone.

It answers the model guide's own input, ../../model-guide/model/test.csv, with the same labels, which this script
checks with onnxruntime before it writes anything. Training is seeded, single-threaded: a rerun on the same
packages gives the same network (the test compares answers, not bytes, since floating point may differ
between machines).
"""
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TEST_CSV = os.path.join(HERE, "..", "..", "model-guide", "model", "test.csv")
TEST_LABELS = [2, 0, 9, 0, 3, 7, 0, 3, 0, 3]


def main(out_dir):
    digits = load_digits()
    half = len(digits.data) // 2
    train_x, train_y = digits.data[:half].astype(np.float32), digits.target[:half]
    held_x, held_y = digits.data[half:].astype(np.float32), digits.target[half:]

    network = MLPClassifier(hidden_layer_sizes=(64,), max_iter=500, random_state=0)
    model = make_pipeline(StandardScaler(), network).fit(train_x, train_y)
    accuracy = float((model.predict(held_x) == held_y).mean())

    # Plain tensors out (labels, probabilities), not a list of maps: what onnxruntime users expect.
    onnx_model = to_onnx(model, train_x[:1], options={id(network): {"zipmap": False}}, target_opset=17)
    data = onnx_model.SerializeToString()
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    test_x = np.loadtxt(TEST_CSV, delimiter=",", dtype=np.float32)
    predicted = [int(p) for p in session.run(None, {session.get_inputs()[0].name: test_x})[0]]
    if predicted != TEST_LABELS:
        sys.exit(f"train.py: the exported network mislabels the test images: {predicted} != {TEST_LABELS}")

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "digits-mlp.onnx"), "wb") as f:
        f.write(data)
    print(f"trained a 64-64-10 network on {half} images in {network.n_iter_} iterations: held-out accuracy "
          f"{accuracy:.4f}; the ONNX export ({len(data)} bytes) predicts {predicted} for the model guide's test.csv")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE)
