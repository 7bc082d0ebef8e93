"""Trains the model-guide's digit classifier and writes the two files the stack uploads.

    python train.py [OUT_DIR]        (default: the directory of this script)

writes OUT_DIR/digits-svc.joblib (the fitted model, about 340 KiB) and OUT_DIR/test.csv (ten held-out images).

The data is scikit-learn's bundled 8x8 digits set (1797 images, shipped inside the package; nothing is
downloaded). Following scikit-learn's "Recognizing hand-written digits" example, an SVC(gamma=0.001) is fitted
on the first half and scored on the second. libsvm has no randomness here and pickling is byte-stable, so the
same scikit-learn/numpy versions always produce the same file, byte for byte (the committed model's sha256 is
checked against a fresh run by test/integration/modelGuide.test.ts). Run it with the interpreter algorithms run
in (algorithmia-local's runtime venv, scikit-learn 1.6.1), so the algorithm can unpickle what this writes.

test.csv holds one image per line as 64 comma-separated pixel values (0-16), no header: the next held-out
images whose labels spell the answer shown in Algorithmia's model-hosting guide, 2 0 9 0 3 7 0 3 0 3.
"""
import os
import sys

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.svm import SVC

TEST_LABELS = [2, 0, 9, 0, 3, 7, 0, 3, 0, 3]


def main(out_dir):
    digits = load_digits()
    half = len(digits.data) // 2
    train_x, train_y = digits.data[:half], digits.target[:half]
    held_x, held_y = digits.data[half:], digits.target[half:]

    model = SVC(gamma=0.001).fit(train_x, train_y)
    accuracy = float((model.predict(held_x) == held_y).mean())

    # The first unused held-out image of each wanted label, in order.
    picked, used = [], set()
    for label in TEST_LABELS:
        index = next(i for i in range(len(held_y)) if held_y[i] == label and i not in used)
        used.add(index)
        picked.append(index)
    test_x = held_x[picked].astype(int)
    predicted = [int(p) for p in model.predict(test_x)]
    if predicted != TEST_LABELS:
        sys.exit(f"train.py: the model mislabels the test images: {predicted} != {TEST_LABELS}")

    os.makedirs(out_dir, exist_ok=True)
    joblib.dump(model, os.path.join(out_dir, "digits-svc.joblib"))
    np.savetxt(os.path.join(out_dir, "test.csv"), test_x, fmt="%d", delimiter=",")
    print(f"trained SVC(gamma=0.001) on {half} images: {len(model.support_)} support vectors, "
          f"held-out accuracy {accuracy:.4f}; test.csv predicts {predicted}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
