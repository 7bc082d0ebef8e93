// The providers the stubs in state load in the provider process (stub.ts): one per resource type, keyed by the
// type name the resource registers. Plain modules: nothing here is serialized.
import { algorithmController } from "./algorithm";
import { algorithmSecretController } from "./algorithmSecret";
import { algorithmVersionController } from "./algorithmVersion";
import { dataCollectionController } from "./dataCollection";
import { dynamicProvider } from "./dynamic";
import { modelFileController } from "./modelFile";
import { STUB_PROTOCOL } from "./stub";

export const providers = {
    DataCollection: dynamicProvider(dataCollectionController),
    ModelFile: dynamicProvider(modelFileController),
    Algorithm: dynamicProvider(algorithmController),
    AlgorithmVersion: dynamicProvider(algorithmVersionController),
    AlgorithmSecret: dynamicProvider(algorithmSecretController),
};

/** The provider a stub of `protocol` asks for (stub.ts). */
export function loadProvider(type: keyof typeof providers, protocol: string) {
    if (protocol !== STUB_PROTOCOL) {
        throw new Error(
            `the state was written by a pulumi-algorithmia that loads its provider as "${protocol}", which the installed ` +
                `one (loading as "${STUB_PROTOCOL}") cannot serve: install that release or a later one`,
        );
    }
    return providers[type];
}
