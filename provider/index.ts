// The public API of pulumi-algorithmia: the resources and their argument types. Everything else is internal.
export { DataCollection, DataCollectionArgs } from "./resources/dataCollection";
// ModelFile: next commit
export { ConnectionArgs } from "./resources/dynamic";
export { ReadAcl } from "./client";
