// The model guide as resources: Algorithmia's "host a trained model" walk-through, step by step.
//   1. a data collection for the model,
//   2. the saved model uploaded into it (and a test CSV beside it),
//   3. an algorithm (Python 3, the GPU environment, its dependencies) whose source loads the model once, at
//      import time, from the data collection (src/DigitClassifier.py reads the model manifest the provider
//      writes into its repository),
//   4. a published version: public, royalty-free, checked with a known input before it is published.
// examples/model-guide/index.ts deploys it as is; examples/promotion/index.ts deploys the same thing per stage.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Algorithm, AlgorithmSettings, AlgorithmVersion, DataCollection, ModelFile } from "../../provider";

/**
 * What the guide hosts, the same for the program in every language (../model-guide-python reads it too): the
 * algorithm's name, settings (Python 3, the GPU environment, no network), dependencies (the pickled model needs
 * the scikit-learn it was trained with), details, release notes, and the answer for model/test.csv (ten held-out
 * images, see model/train.py).
 */
const GUIDE = JSON.parse(fs.readFileSync(path.join(__dirname, "guide.json"), "utf8"));

export const EXPECTED_LABELS: number[] = GUIDE.expectedLabels;

/** The files that make the build: the algorithm's source tree and the model. */
export const ALGORITHM_SOURCE = path.join(__dirname, "algorithm");
export const MODEL_FILE = path.join(__dirname, "model", "digits-svc.joblib");
export const TEST_DATA_FILE = path.join(__dirname, "model", "test.csv");

/** What the algorithm is created with. */
export const ALGORITHM_SETTINGS: AlgorithmSettings = GUIDE.settings;

/** What one hosted model is made of; the guide's steps are the same for every model of the digits. */
export interface HostedModel {
    /** The algorithm's name unless the program gives one; its entry module is src/<name>.py. */
    algorithmName: string;
    /** The algorithm's source tree. */
    source: string;
    /** The trained model, uploaded under its own file name. */
    modelFile: string;
    /** What the algorithm needs to load and run it (requirements.txt lines). */
    dependencies: string[];
    details: { label: string; summary: string; tagline: string };
    releaseNotes: string;
}

/** The model guide's scikit-learn SVC. */
export const DIGIT_CLASSIFIER: HostedModel = {
    algorithmName: GUIDE.algorithmName,
    source: ALGORITHM_SOURCE,
    modelFile: MODEL_FILE,
    dependencies: GUIDE.dependencies,
    details: GUIDE.details,
    releaseNotes: GUIDE.releaseNotes,
};

export interface DigitClassifierArgs {
    /** The user or organization that owns everything; default the API key's own user. */
    owner?: string;
    /** The data collection holding the model (default "digits"). */
    collectionName?: string;
    /** The algorithm's name (default the model's, e.g. "DigitClassifier"); its entry module is src/<name>.py. */
    algorithmName?: string;
    /** Take over an algorithm of that name that already exists (e.g. one a previous `destroy` had to leave). */
    adopt?: boolean;
    /**
     * Promotion: the tree this stage must reproduce. The provider refuses a source tree whose sha256 differs (at
     * preview), and the version is only published once the tree built here hashes to `sourceSha256`. The git hash
     * is this cluster's own: each cluster writes its own commits.
     */
    promote?: { sourceSha256: string };
}

export interface DigitClassifierOutputs {
    collectionUri: pulumi.Output<string>;
    modelUri: pulumi.Output<string>;
    modelSha256: pulumi.Output<string>;
    testDataUri: pulumi.Output<string>;
    algoPath: pulumi.Output<string>;
    gitHash: pulumi.Output<string>;
    sourceSha256: pulumi.Output<string>;
    version: pulumi.Output<string>;
    algoUri: pulumi.Output<string>;
    testsPassed: pulumi.Output<number>;
    /** The API address the algorithm lives on, as the provider resolved it. */
    apiAddress: pulumi.Output<string>;
    /** The published version's REST endpoint (POST JSON to it with `Authorization: Simple <key>`). */
    endpoint: pulumi.Output<string>;
    /** An input the version answers with EXPECTED_LABELS. */
    sampleInput: pulumi.Output<string>;
}

export function digitClassifier(args: DigitClassifierArgs = {}): DigitClassifierOutputs {
    return hostedModel(DIGIT_CLASSIFIER, args);
}

/** The guide's steps for `hosted`: collection, model and test data, algorithm, tested and published version. */
export function hostedModel(hosted: HostedModel, args: DigitClassifierArgs = {}): DigitClassifierOutputs {
    const { owner } = args;
    const algorithmName = args.algorithmName ?? hosted.algorithmName;

    // 1. Where the model lives: only the owner's algorithms may read it.
    const collection = new DataCollection("model-collection", {
        name: args.collectionName ?? "digits",
        owner,
        readAcl: "myAlgorithms",
    });

    // 2. The saved model and a test file, uploaded (again only when their bytes change).
    const model = new ModelFile("model", {
        collection: collection.dataUri,
        name: path.basename(hosted.modelFile),
        source: new pulumi.asset.FileAsset(hosted.modelFile),
    });
    const testData = new ModelFile("test-data", {
        collection: collection.dataUri,
        name: "test.csv",
        source: new pulumi.asset.FileAsset(TEST_DATA_FILE),
    });

    // 3. The algorithm. `modelFiles` becomes the ADK's frozen model_manifest.json in its repository (the md5 makes it
    //    frozen), so a new model is a new build, and the build loads exactly the model it was made for.
    const algorithm = new Algorithm(
        "digit-classifier",
        {
            name: algorithmName,
            owner,
            details: hosted.details,
            settings: ALGORITHM_SETTINGS,
            source: hosted.source,
            dependencies: hosted.dependencies,
            modelFiles: { model: { dataUri: model.dataUri, sha256: model.sha256, md5: model.md5 } },
            expectedSourceSha256: args.promote?.sourceSha256,
            adopt: args.adopt,
        },
        {
            // Algorithmia never deletes an algorithm that has a public version (the platform refuses): `destroy`
            // leaves it on the server, removes it from the stack and deletes everything else.
            retainOnDelete: true,
        },
    );

    // Promotion: publish nothing but a build of the tree being promoted (its commit is this cluster's own).
    const promoted = args.promote;
    const gitHash = promoted
        ? pulumi.all([algorithm.gitHash, algorithm.sourceSha256]).apply(([hash, tree]) => {
              if (tree !== promoted.sourceSha256) {
                  throw new Error(
                      `promotion: this stage built the tree ${tree}, the promoted tree is ${promoted.sourceSha256}; ` +
                          "refusing to publish a different build",
                  );
              }
              return hash;
          })
        : algorithm.gitHash;

    // 4. Publish: public, royalty-free, after the known input gives the known answer.
    const sampleInput = testData.dataUri.apply((uri) => JSON.stringify({ test_data: uri }));
    const version = new AlgorithmVersion("published", {
        algorithm: algorithm.algoPath,
        gitHash,
        // What the version carries: the preview checks a permission change against the published versions.
        algorithmSettings: algorithm.settings,
        versionType: "minor",
        callability: "public",
        royaltyMicrocredits: 0,
        releaseNotes: hosted.releaseNotes,
        sampleInput,
        tests: [
            { input: { test_data: testData.dataUri }, expect: EXPECTED_LABELS },
            { input: { images: [[0, 1, 2]] }, expectError: true },
        ],
    });

    // Where the algorithm is (`<api>/v1/algo/owner/name`, resolved by the provider from its whole configuration).
    const apiAddress = algorithm.apiUrl.apply((url) => url.replace(/\/v1\/algo\/.*$/, ""));
    return {
        collectionUri: collection.dataUri,
        modelUri: model.dataUri,
        modelSha256: model.sha256,
        testDataUri: testData.dataUri,
        algoPath: algorithm.algoPath,
        gitHash: version.gitHash,
        sourceSha256: algorithm.sourceSha256,
        version: version.version,
        algoUri: version.algoUri,
        testsPassed: version.testsPassed,
        apiAddress,
        endpoint: pulumi.interpolate`${apiAddress}/v1/algo/${version.algoUri}`,
        sampleInput,
    };
}
