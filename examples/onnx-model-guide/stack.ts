// The ONNX model guide: the model guide's steps (../model-guide/stack.ts) for Algorithmia's deep-learning case, a
// small neural network exported to ONNX (model/train.py) and run by onnxruntime, which the algorithm's build
// installs from its own dependencies. It answers the model guide's input with the model guide's labels.
import * as path from "path";
import { DigitClassifierArgs, DigitClassifierOutputs, HostedModel, hostedModel } from "../model-guide/stack";

export const DIGIT_NET: HostedModel = {
    algorithmName: "DigitNet",
    source: path.join(__dirname, "algorithm"),
    modelFile: path.join(__dirname, "model", "digits-mlp.onnx"),
    // The algorithm needs onnxruntime alone (model/requirements.txt is for training).
    dependencies: ["algorithmia>=2.0.5,<3", "numpy>=1.26", "onnxruntime==1.32.0"],
    details: {
        label: "Digit Net",
        summary: "Predicts the digits (0-9) in 8x8 grayscale images with a small neural network run by onnxruntime.",
        tagline: "The model-hosting guide's deep-learning case, exported to ONNX",
    },
    releaseNotes:
        "A 64-64-10 network trained on half of scikit-learn's digits, exported to ONNX; held-out accuracy 0.926.",
};

export interface DigitNetArgs extends DigitClassifierArgs {
    /** The onnxruntime requirement, e.g. "onnxruntime-gpu[cuda,cudnn]==1.31.1" on a GPU host; default DIGIT_NET's. */
    onnxruntime?: string;
}

export function digitNet({ onnxruntime, ...args }: DigitNetArgs = {}): DigitClassifierOutputs {
    const dependencies = DIGIT_NET.dependencies.map((d) =>
        onnxruntime && d.startsWith("onnxruntime") ? onnxruntime : d,
    );
    return hostedModel({ ...DIGIT_NET, dependencies }, { collectionName: "digits_onnx", ...args });
}
