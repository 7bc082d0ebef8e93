// `npm run schema`: writes schema.json, the Pulumi package schema of the provider plugin (provider/plugin.ts), from
// the code: types, required inputs and defaults from the zod input schemas `check` validates with, descriptions
// from the JSDoc of each `<Type>Args` interface and class (resource-model.ts), the configuration from
// PROVIDER_SETTINGS. Pulumi's SDK generators read it; the plugin serves it (GetSchema). `--check` (the unit test's
// mode) fails instead of writing when it is stale.
import * as fs from "fs";
import * as path from "path";
import { PROVIDER_SETTINGS } from "../provider/config";
import { PACKAGE } from "../provider/plugin";
import {
    CONNECTION,
    Declaration,
    inputSchema,
    JsonSchema,
    Member,
    nestedDeclaration,
    readDeclarations,
    RESOURCES,
    ROOT,
} from "./resource-model";

export const SCHEMA_FILE = path.join(ROOT, "schema.json");

type TypeSpec = Record<string, unknown>;
type PropertySpec = TypeSpec & { description?: string };

const token = (name: string) => `${PACKAGE}:index:${name}`;
const ANY = { $ref: "pulumi.json#/Any" };

/** Builds the schema's types as it maps properties; named object types land in `types`. */
class SchemaBuilder {
    readonly types: Record<string, TypeSpec> = {};

    constructor(private readonly declarations: Map<string, Declaration>) {}

    /** A property from its JSON Schema (what `check` accepts) and its declared type (for names and assets). */
    property(node: JsonSchema | undefined, member: Member, typeName: string): PropertySpec {
        const spec = this.typeOf(node, member.typeText, typeName);
        const values = node?.enum ? ` One of ${node.enum.map((v) => JSON.stringify(v)).join(", ")}.` : "";
        const description = `${member.doc}${values}`.trim();
        return {
            ...spec,
            ...(description ? { description } : {}),
            ...(node?.default !== undefined ? { default: node.default } : {}),
        };
    }

    private typeOf(node: JsonSchema | undefined, typeText: string, typeName: string): TypeSpec {
        if (typeText.includes("pulumi.asset")) return { oneOf: [{ type: "string" }, { $ref: "pulumi.json#/Asset" }] };
        if (!node || Object.keys(node).filter((k) => k !== "default").length === 0) return ANY;
        if (node.enum) return { type: "string" };
        if (node.const !== undefined) return { type: typeof node.const };
        if (node.anyOf) {
            // Alternatives of one object (e.g. a test with `expect` or `expectError`): one type with both.
            if (!node.anyOf.every((alt) => alt.type === "object" && alt.properties)) return ANY;
            const properties = Object.assign({}, ...node.anyOf.map((alt) => alt.properties));
            const required = node.anyOf
                .map((alt) => alt.required ?? [])
                .reduce((a, b) => a.filter((k) => b.includes(k)));
            return this.typeOf({ type: "object", properties, required }, typeText, typeName);
        }
        switch (node.type) {
            case "string":
            case "boolean":
                return { type: node.type };
            case "integer":
            case "number":
                return { type: node.type };
            case "array":
                return { type: "array", items: this.typeOf(node.items, typeText.replace(/\[\]>*$/, ""), typeName) };
            case "object":
                if (node.properties) return this.objectType(node, typeText, typeName);
                if (typeof node.additionalProperties === "object") {
                    return {
                        type: "object",
                        additionalProperties: this.typeOf(node.additionalProperties, typeText, typeName),
                    };
                }
                return ANY;
            default:
                return ANY;
        }
    }

    /** A named object type: the interface the declared type names, else `typeName`. */
    private objectType(node: JsonSchema, typeText: string, typeName: string): TypeSpec {
        const declared = nestedDeclaration(typeText, this.declarations);
        const name = declared?.name ?? typeName;
        const members = new Map((declared?.members ?? []).map((m) => [m.name, m]));
        const properties: Record<string, PropertySpec> = {};
        for (const [key, child] of Object.entries(node.properties ?? {})) {
            const member = members.get(key) ?? { name: key, optional: true, doc: "", typeText: "" };
            properties[key] = this.property(child, member, `${name}${key[0].toUpperCase()}${key.slice(1)}`);
        }
        // A type met again (an Algorithm's settings, then the part a version keeps) keeps its first requirements.
        const first = this.types[token(name)];
        this.types[token(name)] = {
            type: "object",
            ...(declared?.doc ? { description: declared.doc } : {}),
            properties: { ...((first?.properties as object) ?? {}), ...properties },
            ...((first ? first.required : node.required?.length ? node.required : undefined) !== undefined
                ? { required: first ? first.required : node.required }
                : {}),
        };
        return { $ref: `#/types/${token(name)}` };
    }

    /** An output that is no input, from its declared type (`pulumi.Output<T>`). */
    output(member: Member): PropertySpec {
        const inner = member.typeText.replace(/^pulumi\.Output<(.*)>$/, "$1").replace(/\s*\|\s*undefined/, "");
        const primitive = ({ string: "string", number: "number", boolean: "boolean" } as Record<string, string>)[inner];
        const declared = this.declarations.get(inner);
        const spec = primitive
            ? { type: primitive }
            : declared && this.types[token(inner)]
              ? { $ref: `#/types/${token(inner)}` }
              : /^[A-Z]\w*$/.test(inner) // a string union alias (Callability, ReadAcl, ...)
                ? { type: "string" }
                : ANY;
        return { ...spec, ...(member.doc ? { description: member.doc } : {}) };
    }
}

/** The name for an object type a property holds: the type it declares (`AlgorithmTest`), else `<Type><Property>`. */
function typeNameOf(member: Member, resourceType: string): string {
    const wrappers = new Set(["Input", "Output", "InputsOf", "Record", "Partial"]);
    const named = (member.typeText.match(/\b[A-Z][A-Za-z]*\b/g) ?? []).find((name) => !wrappers.has(name));
    return named ?? `${resourceType}${member.name[0].toUpperCase()}${member.name.slice(1)}`;
}

export function pulumiSchema(): object {
    const declarations = readDeclarations();
    const builder = new SchemaBuilder(declarations);
    const connection = declarations.get(CONNECTION)!;
    const resources: Record<string, object> = {};
    for (const { type, controller, secrets = [] } of RESOURCES) {
        const args = declarations.get(`${type}Args`)!;
        const resource = declarations.get(type)!;
        const node = inputSchema(controller);
        const inputs: Record<string, PropertySpec> = {};
        for (const member of [...args.members, ...connection.members]) {
            const spec = builder.property(node.properties?.[member.name], member, typeNameOf(member, type));
            const secret = member.name === "apiKey" || secrets.includes(member.name);
            inputs[member.name] = secret ? { ...spec, secret: true } : spec;
        }
        const outputs: Record<string, PropertySpec> = { ...inputs };
        for (const member of resource.members) {
            if (!(member.name in inputs)) outputs[member.name] = builder.output(member);
        }
        outputs.cluster = { type: "string", description: "The API address the object lives on." };
        const requiredInputs = (node.required ?? []).filter(
            (key) => key in inputs && node.properties?.[key]?.default === undefined,
        );
        resources[token(type)] = {
            description: resource.doc,
            inputProperties: inputs,
            requiredInputs,
            properties: outputs,
            required: [
                ...requiredInputs,
                ...resource.members
                    .filter((m) => !m.typeText.includes("undefined") && !(m.name in inputs))
                    .map((m) => m.name),
            ],
        };
    }
    const config = Object.fromEntries(
        Object.entries(PROVIDER_SETTINGS).map(([name, s]) => [
            name,
            { type: "string", description: s.description, ...(s.secret ? { secret: true } : {}) },
        ]),
    );
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version;
    return {
        name: PACKAGE,
        displayName: "Algorithmia",
        version,
        description: "Algorithmia data collections, model files, algorithms, published versions and secrets.",
        keywords: ["pulumi", "algorithmia", "machine-learning", "category/cloud", "kind/native"],
        license: "Apache-2.0",
        config: { variables: config },
        provider: { inputProperties: config },
        types: builder.types,
        resources,
        language: {
            python: { packageName: "pulumi_algorithmia" },
            nodejs: { packageName: "pulumi-algorithmia-plugin" },
        },
    };
}

export const renderSchema = () => JSON.stringify(pulumiSchema(), null, 2) + "\n";

if (require.main === module) {
    const rendered = renderSchema();
    const current = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, "utf8") : "";
    if (process.argv.includes("--check")) {
        if (rendered !== current) {
            console.error("schema.json is stale: run `npm run schema`");
            process.exit(1);
        }
    } else if (rendered !== current) {
        fs.writeFileSync(SCHEMA_FILE, rendered);
        console.log("schema.json written");
    }
}
