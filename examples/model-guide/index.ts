// The model-guide stack (the repository's root Pulumi.yaml runs it; `npm run demo` deploys and calls it).
//
// Config (all optional):
//     algorithmia:apiAddress   the API (default $ALGORITHMIA_API, else Algorithmia's public API)
//     algorithmia:apiKey       a secret (default $ALGORITHMIA_API_KEY)
//     model-guide:owner        user or organization owning everything (default the key's own user)
//     model-guide:collection   data collection name (default "digits")
//     model-guide:algorithm    algorithm name (default "DigitClassifier")
//     model-guide:adopt        true: take over an existing algorithm of that name (one a destroy had to leave,
//                              since Algorithmia keeps algorithms that have public versions)
import * as pulumi from "@pulumi/pulumi";
import { digitClassifier } from "./stack";

const config = new pulumi.Config();
const deployed = digitClassifier({
    owner: config.get("owner"),
    collectionName: config.get("collection"),
    algorithmName: config.get("algorithm"),
    adopt: config.getBoolean("adopt"),
});

export const modelUri = deployed.modelUri;
export const modelSha256 = deployed.modelSha256;
export const testDataUri = deployed.testDataUri;
export const gitHash = deployed.gitHash;
export const sourceSha256 = deployed.sourceSha256;
export const version = deployed.version;
export const testsPassed = deployed.testsPassed;
// How to call the model.
export const algoUri = deployed.algoUri;
export const endpoint = deployed.endpoint;
export const sampleInput = deployed.sampleInput;
export const callWithCurl = pulumi.interpolate`curl -s -X POST -H "Authorization: Simple $ALGORITHMIA_API_KEY" -H "Content-Type: application/json" -d '${deployed.sampleInput}' ${deployed.endpoint}`;
export const callWithNode = pulumi.interpolate`ALGORITHMIA_API=${deployed.apiAddress} ALGORITHMIA_API_KEY=... npx ts-node examples/model-guide/call.ts ${deployed.algoUri} '${deployed.sampleInput}'`;
