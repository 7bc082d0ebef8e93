// pulumi-resource-algorithmia: the same resources served as a Pulumi provider plugin, so that programs in any
// language (and `pulumi import`) can use them; the dynamic resources serve TypeScript programs only, by
// construction. A gRPC server on the provider protocol stubs @pulumi/pulumi ships, around the providers the
// dynamic resources' stubs load (resources/providers.ts): the same checks, diff rules and CRUD per resource type,
// the connection from the provider's configuration (`algorithmia:apiKey`, `algorithmia:apiAddress`, ...).
//
// The engine starts it with the engine's address as the argument and reads the port it listens on from the first
// line of its stdout. It tells the engine it takes no secrets (`acceptSecrets: false`): the engine then hands over
// plain values and marks secret each output whose input of the same name was secret, as with dynamic providers.
import * as path from "path";
import { isDeepStrictEqual } from "util";
import { providers } from "./resources/providers";
import { KeyedDiff } from "./resources/dynamic";
import { StackConfig } from "./config";

/** The package's name in type tokens (`algorithmia:index:Algorithm`) and configuration keys (`algorithmia:apiKey`). */
export const PACKAGE = "algorithmia";
export type ResourceType = keyof typeof providers;

// The protocol stubs and the gRPC and protobuf runtimes they were generated for, from @pulumi/pulumi's own
// dependencies: messages of another copy of google-protobuf would not serialize.
const sdkDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const fromSdk = (id: string) => require(require.resolve(id, { paths: [sdkDir] }));
const grpc = fromSdk("@grpc/grpc-js");
const structproto = fromSdk("google-protobuf/google/protobuf/struct_pb");
const emptyproto = fromSdk("google-protobuf/google/protobuf/empty_pb");
const anyproto = fromSdk("google-protobuf/google/protobuf/any_pb");
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const provproto = require("@pulumi/pulumi/proto/provider_pb");
const plugproto = require("@pulumi/pulumi/proto/plugin_pb");
const statusproto = require("@pulumi/pulumi/proto/status_pb");

/** How the engine marks a secret inside a property value (when a provider accepts secrets). */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const unwrapSecret = (value: any) =>
    value && typeof value === "object" && value["4dabf18193072939515e22adb298388d"] === SECRET_SIG
        ? value.value
        : value;

/** The resource type of a URN (`urn:pulumi:<stack>::<project>::[<parent type>$]<type>::<name>`). */
export function typeOfUrn(urn: string): ResourceType {
    const qualified = urn.split("::")[2] ?? "";
    const token = qualified.slice(qualified.lastIndexOf("$") + 1);
    const [pkg, , name] = token.split(":");
    if (pkg !== PACKAGE || !(name in providers))
        throw new Error(`pulumi-resource-algorithmia has no resource type ${token}`);
    return name as ResourceType;
}

/** The provider's configuration as the resources read it: `algorithmia:<key>` from Configure's arguments. */
function configOf(request: any): StackConfig {
    const args: Record<string, unknown> = request.getArgs()?.toJavaScript() ?? {};
    const variables: Map<string, string> = new Map(request.getVariablesMap().entries());
    return {
        get(key: string) {
            const name = key.startsWith(`${PACKAGE}:`) ? key.slice(PACKAGE.length + 1) : key;
            const value = unwrapSecret(args[name]) ?? variables.get(`${PACKAGE}:config:${name}`) ?? variables.get(key);
            return value === undefined || value === null ? undefined : String(value);
        },
    };
}

const struct = (value: object) => structproto.Struct.fromJavaScript(JSON.parse(JSON.stringify(value)));

/** A failed create or update, with the object that exists after all (`id`) as the engine needs it to keep it. */
function grpcError(err: any) {
    const error = { code: grpc.status.UNKNOWN, message: String(err?.message ?? err), metadata: new grpc.Metadata() };
    if (err?.id) {
        const detail = new provproto.ErrorResourceInitFailed();
        detail.setId(err.id);
        detail.setProperties(struct(err.properties ?? {}));
        detail.setReasonsList(err.reasons ?? [err.message]);
        const any = new anyproto.Any();
        any.pack(detail.serializeBinary(), "pulumirpc.ErrorResourceInitFailed");
        const status = new statusproto.Status();
        status.setCode(grpc.status.UNKNOWN);
        status.setMessage(error.message);
        status.addDetails(any);
        error.metadata.add("grpc-status-details-bin", Buffer.from(status.serializeBinary()));
    }
    return error;
}

type Handler = (request: any) => Promise<any>;

/** A unary gRPC method from an async function: its answer, or its error as the engine reports it. */
const unary = (handler: Handler) => (call: any, callback: any) => {
    handler(call.request).then(
        (response) => callback(null, response),
        (err) => callback(grpcError(err), null),
    );
};

const unimplemented = (what: string) => (_call: any, callback: any) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: `${what} is not implemented by pulumi-resource-algorithmia` });

export interface PluginOptions {
    /** The schema (schema.json) GetSchema answers. */
    schema: string;
    version: string;
}

/**
 * A refresh's inputs: each declared input that the state's outputs mirrored follows what the read found, so that a
 * preview after drift shows `found => declared` (the engine displays input diffs); the others stay as declared.
 */
function refreshedInputs(inputs: Record<string, unknown>, before: Record<string, unknown>, found: object) {
    const read = found as Record<string, unknown>;
    return Object.fromEntries(
        Object.entries(inputs).map(([key, value]) => [
            key,
            key in read && isDeepStrictEqual(value, before[key]) ? read[key] : value,
        ]),
    );
}

/** The provider service: one configuration per plugin process, as the engine starts one per provider instance. */
export function providerService(options: PluginOptions) {
    const schema = JSON.parse(options.schema);
    /** The inputs an imported object's code needs: the arguments it has (never a key), as the schema names them. */
    const importedInputs = (type: ResourceType, props: Record<string, unknown>) => {
        const declared = Object.keys(schema.resources?.[`${PACKAGE}:index:${type}`]?.inputProperties ?? {});
        return Object.fromEntries(
            declared.filter((key) => key !== "apiKey" && props[key] !== undefined).map((key) => [key, props[key]]),
        );
    };
    const providerFor = async (urn: string) => {
        const provider = providers[typeOfUrn(urn)];
        await configured;
        return provider;
    };
    let configure!: (config: StackConfig) => void;
    const configured = new Promise<StackConfig>((resolve) => (configure = resolve)).then(async (config) => {
        for (const provider of Object.values(providers)) await provider.configure?.({ config } as any);
    });

    return {
        getPluginInfo: unary(async () => new plugproto.PluginInfo().setVersion(options.version)),
        getSchema: unary(async () => new provproto.GetSchemaResponse().setSchema(options.schema)),
        checkConfig: unary(async (req) => new provproto.CheckResponse().setInputs(req.getNews())),
        diffConfig: unary(async () =>
            new provproto.DiffResponse().setChanges(provproto.DiffResponse.DiffChanges.DIFF_NONE),
        ),
        configure: unary(async (req) => {
            configure(configOf(req));
            await configured;
            return new provproto.ConfigureResponse()
                .setAcceptsecrets(false)
                .setSupportspreview(false)
                .setAcceptresources(false);
        }),
        check: unary(async (req) => {
            const provider = await providerFor(req.getUrn());
            const result = await provider.check!(req.getOlds().toJavaScript(), req.getNews().toJavaScript());
            const response = new provproto.CheckResponse().setInputs(struct(result.inputs ?? {}));
            response.setFailuresList(
                (result.failures ?? []).map((f: { property: string; reason: string }) =>
                    new provproto.CheckFailure().setProperty(f.property).setReason(f.reason),
                ),
            );
            return response;
        }),
        diff: unary(async (req) => {
            const provider = await providerFor(req.getUrn());
            const diff = (await provider.diff!(
                req.getId(),
                req.getOlds().toJavaScript(),
                req.getNews().toJavaScript(),
            )) as KeyedDiff;
            const { DiffChanges } = provproto.DiffResponse;
            const response = new provproto.DiffResponse()
                .setChanges(diff.changes ? DiffChanges.DIFF_SOME : DiffChanges.DIFF_NONE)
                .setReplacesList(diff.replaces ?? [])
                .setStablesList(diff.stables ?? [])
                .setDeletebeforereplace(!!diff.deleteBeforeReplace)
                .setDiffsList(diff.diffs ?? [])
                .setHasdetaileddiff(true);
            const { Kind } = provproto.PropertyDiff;
            for (const key of diff.diffs ?? []) {
                const kind = diff.replaces?.includes(key) ? Kind.UPDATE_REPLACE : Kind.UPDATE;
                response.getDetaileddiffMap().set(key, new provproto.PropertyDiff().setKind(kind).setInputdiff(true));
            }
            return response;
        }),
        create: unary(async (req) => {
            const provider = await providerFor(req.getUrn());
            const { id, outs } = await provider.create(req.getProperties().toJavaScript());
            return new provproto.CreateResponse().setId(id).setProperties(struct(outs));
        }),
        read: unary(async (req) => {
            const provider = await providerFor(req.getUrn());
            const props = req.getProperties()?.toJavaScript() ?? {};
            // `pulumi import` reads by id alone; a refresh sends the state.
            if (Object.keys(props).length === 0) {
                const imported = await provider.import(req.getId());
                return new provproto.ReadResponse()
                    .setId(imported.id)
                    .setProperties(struct(imported.props))
                    .setInputs(struct(importedInputs(typeOfUrn(req.getUrn()), imported.props)));
            }
            const result = await provider.read!(req.getId(), props);
            const response = new provproto.ReadResponse();
            if (!result.id) return response; // gone: no id drops it from the state
            const inputs = refreshedInputs(req.getInputs()?.toJavaScript() ?? {}, props, result.props ?? {});
            return response
                .setId(result.id)
                .setProperties(struct(result.props ?? {}))
                .setInputs(struct(inputs));
        }),
        update: unary(async (req) => {
            const provider = await providerFor(req.getUrn());
            const result = await provider.update!(
                req.getId(),
                req.getOlds().toJavaScript(),
                req.getNews().toJavaScript(),
            );
            return new provproto.UpdateResponse().setProperties(struct(result.outs ?? {}));
        }),
        delete: unary(async (req) => {
            const provider = await providerFor(req.getUrn());
            await provider.delete!(req.getId(), req.getProperties().toJavaScript());
            return new emptyproto.Empty();
        }),
        cancel: unary(async () => new emptyproto.Empty()),
        invoke: unimplemented("Invoke"),
        streamInvoke: unimplemented("StreamInvoke"),
        call: unimplemented("Call"),
        construct: unimplemented("Construct"),
        attach: unimplemented("Attach"),
        getMapping: unimplemented("GetMapping"),
        getMappings: unimplemented("GetMappings"),
        handshake: unimplemented("Handshake"),
        parameterize: unimplemented("Parameterize"),
    };
}

/** Serves the provider on a free local port and prints the port, as the engine expects of a plugin. */
export async function main(options: PluginOptions): Promise<void> {
    const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
    server.addService(provrpc.ResourceProviderService, providerService(options));
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, p: number) =>
            err ? reject(err) : resolve(p),
        ),
    );
    process.stdout.write(`${port}\n`);
}
