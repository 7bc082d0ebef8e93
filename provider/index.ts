// The public API of pulumi-algorithmia: the resources and their argument types. Everything else is internal.
import { assertSupportedRuntime } from "./compat";

// First, before anything loads @pulumi/pulumi: an unsupported Node.js or SDK fails here, saying what to install.
assertSupportedRuntime();

export { DataCollection, DataCollectionArgs } from "./resources/dataCollection";
export { ModelFile, ModelFileArgs } from "./resources/modelFile";
export { Algorithm, AlgorithmArgs, AlgorithmDetails, AlgorithmSettings } from "./resources/algorithm";
export {
    AlgorithmVersion,
    AlgorithmVersionArgs,
    AlgorithmTest,
    Callability,
    VersionType,
} from "./resources/algorithmVersion";
export { AlgorithmSecret, AlgorithmSecretArgs } from "./resources/algorithmSecret";
export { ConnectionArgs } from "./resources/dynamic";
export { ReadAcl } from "./client";
