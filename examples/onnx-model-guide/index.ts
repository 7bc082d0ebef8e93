// The ONNX model-guide stack (this directory's Pulumi.yaml). Config (all optional), as the model guide's:
//     algorithmia:apiAddress, algorithmia:apiKey (a secret), onnx-model-guide:owner, onnx-model-guide:collection
//     (default "digits_onnx"), onnx-model-guide:algorithm (default "DigitNet"), onnx-model-guide:adopt, and
//     onnx-model-guide:onnxruntime (the onnxruntime requirement; see README.md for GPU hosts).
import * as pulumi from "@pulumi/pulumi";
import { digitNet } from "./stack";

const config = new pulumi.Config();
const deployed = digitNet({
    owner: config.get("owner"),
    collectionName: config.get("collection"),
    algorithmName: config.get("algorithm"),
    adopt: config.getBoolean("adopt"),
    onnxruntime: config.get("onnxruntime"),
});

export const modelUri = deployed.modelUri;
export const modelSha256 = deployed.modelSha256;
export const gitHash = deployed.gitHash;
export const version = deployed.version;
export const testsPassed = deployed.testsPassed;
export const algoUri = deployed.algoUri;
export const endpoint = deployed.endpoint;
export const sampleInput = deployed.sampleInput;
