// The secret store (docs/api-reference.md §3.5): per-algorithm secrets exposed to the algorithm as environment
// variables. Values are kept (for the execution area) but never returned. One built-in provider.
import * as crypto from "crypto";
import { FastifyInstance, FastifyRequest } from "fastify";
import { byIdOrAlgorithm, managementBodies, objectBody, resolveAlgorithm } from "./algorithms";
import { requireCaller } from "./auth";
import { stableId } from "./environments";
import { ApiError, ErrorCode, invalidRequest } from "./errors";
import type { ServerContext } from "./index";
import { Store } from "./store";

const CREATED = "2021-01-01T00:00:00.000Z";
export const INTERNAL_PROVIDER = {
    id: stableId("secret-provider:internal"),
    name: "algorithmia_internal_secret_provider",
    description: "Secrets kept by algorithmia-local in its own database",
    moduleName: "internal",
    factoryClassName: "internal",
    interfaceVersion: "1.0",
    isEnabled: true,
    isDefault: true,
    created: CREATED,
    modified: CREATED,
};

interface SecretRow {
    id: string;
    algorithm_id: string;
    short_name: string;
    description: string;
    secret_key: string;
    secret_value: string;
    provider_id: string;
    created: string;
    modified: string;
}

/** The secrets of an algorithm as environment variables (for the execution area). */
export function secretEnvironment(store: Store, algorithmId: string): Record<string, string> {
    const rows = store.db
        .prepare("SELECT secret_key, secret_value FROM algorithm_secrets WHERE algorithm_id = ?")
        .all(algorithmId) as SecretRow[];
    return Object.fromEntries(rows.map((r) => [r.secret_key, r.secret_value]));
}

function secretObject(row: SecretRow) {
    return {
        id: row.id,
        short_name: row.short_name,
        description: row.description,
        secret_key: row.secret_key,
        owner_type: "algorithm",
        owner_id: row.algorithm_id,
        provider_id: row.provider_id,
        created: row.created,
        modified: row.modified,
    };
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Validates a create or update body. The spec's request schemas require `short_name`, `description` and the key in
 * both (a create also needs the value, an update may keep it); the official Python client sends a description of
 * one space when it has none, so an empty one is refused as the strictest reading.
 */
function checkFields(body: Record<string, unknown>, algorithmId: string, creating: boolean): Partial<SecretRow> {
    const fields: Partial<SecretRow> = {};
    const text = (key: "short_name" | "description" | "secret_key" | "secret_value", required: boolean) => {
        const value = body[key];
        if (value === undefined || value === null) {
            if (required) {
                throw new ApiError(
                    400,
                    `${key} is required`,
                    key === "secret_value"
                        ? ErrorCode.CreateRequiresSecretValue
                        : ErrorCode.SecretMetadataConstraintViolation,
                );
            }
            return;
        }
        if (typeof value !== "string")
            throw new ApiError(400, `${key} must be a string`, ErrorCode.SecretMetadataConstraintViolation);
        fields[key] = value;
    };
    text("short_name", true);
    text("description", true);
    text("secret_key", true);
    text("secret_value", creating);
    if (fields.description === "") {
        throw new ApiError(400, "description must not be empty", ErrorCode.SecretMetadataConstraintViolation);
    }
    if (fields.short_name !== undefined && !fields.short_name.trim()) {
        throw new ApiError(400, "short_name must not be empty", ErrorCode.SecretMetadataConstraintViolation);
    }
    if (fields.secret_key !== undefined && !ENV_NAME.test(fields.secret_key)) {
        throw new ApiError(
            400,
            `secret_key must be an environment variable name (letters, digits, underscores; not starting ` +
                `with a digit), got ${JSON.stringify(fields.secret_key)}`,
            ErrorCode.SecretMetadataConstraintViolation,
        );
    }
    if (body.owner_type !== undefined && body.owner_type !== "algorithm")
        throw invalidRequest('owner_type must be "algorithm"');
    if (body.owner_id !== undefined && String(body.owner_id).toLowerCase() !== algorithmId) {
        throw invalidRequest(`owner_id must be this algorithm's id ${algorithmId}`);
    }
    if (body.provider_id !== undefined && body.provider_id !== INTERNAL_PROVIDER.id) {
        throw new ApiError(
            400,
            `No secret provider ${JSON.stringify(body.provider_id)}; use ${INTERNAL_PROVIDER.id}`,
            ErrorCode.SecretProviderNotFound,
        );
    }
    return fields;
}

export async function secretsApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
    const store = ctx.store;
    store.migrate(`
        CREATE TABLE IF NOT EXISTS algorithm_secrets (
            id TEXT PRIMARY KEY,
            algorithm_id TEXT NOT NULL REFERENCES algorithms(id) ON DELETE CASCADE,
            short_name TEXT NOT NULL,
            description TEXT NOT NULL,
            secret_key TEXT NOT NULL,
            secret_value TEXT NOT NULL,
            provider_id TEXT NOT NULL,
            created TEXT NOT NULL,
            modified TEXT NOT NULL,
            UNIQUE (algorithm_id, secret_key)
        );
    `);
    managementBodies(app);

    app.get("/v1/secret-provider", async (request) => {
        requireCaller(request);
        return [INTERNAL_PROVIDER];
    });

    const list = (algorithmId: string) => {
        const rows = store.db
            .prepare("SELECT * FROM algorithm_secrets WHERE algorithm_id = ? ORDER BY created, id")
            .all(algorithmId) as SecretRow[];
        const secrets = rows.map(secretObject);
        return { secrets, results: secrets }; // real replies used `secrets`, the spec `results` (§8.6)
    };
    app.get(
        "/v1/algorithms/:id/secrets",
        byIdOrAlgorithm(ctx, "secrets", async (request) => list(resolveAlgorithm(store, request, "write").algo.id)),
    );

    const duplicateKey = (algorithmId: string, key: string, except?: string) => {
        const row = store.db
            .prepare("SELECT id FROM algorithm_secrets WHERE algorithm_id = ? AND secret_key = ? AND id <> ?")
            .get(algorithmId, key, except ?? "");
        if (row)
            throw new ApiError(
                400,
                `A secret with secret_key ${key} already exists for this algorithm`,
                ErrorCode.SecretMetadataConstraintViolation,
            );
    };

    app.post("/v1/algorithms/:id/secrets", async (request) => {
        const { algo } = resolveAlgorithm(store, request, "write");
        const fields = checkFields(objectBody(request.body), algo.id, true);
        return store.transaction(() => {
            duplicateKey(algo.id, fields.secret_key!);
            const now = new Date().toISOString();
            const row: SecretRow = {
                id: crypto.randomUUID(),
                algorithm_id: algo.id,
                short_name: fields.short_name!,
                description: fields.description!,
                secret_key: fields.secret_key!,
                secret_value: fields.secret_value!,
                provider_id: INTERNAL_PROVIDER.id,
                created: now,
                modified: now,
            };
            store.db
                .prepare(
                    `INSERT INTO algorithm_secrets (id, algorithm_id, short_name, description, secret_key, secret_value,
                provider_id, created, modified) VALUES (@id, @algorithm_id, @short_name, @description, @secret_key, @secret_value,
                @provider_id, @created, @modified)`,
                )
                .run(row);
            return secretObject(row);
        });
    });

    const findSecret = (request: FastifyRequest): SecretRow => {
        const { algo } = resolveAlgorithm(store, request, "write");
        const { secretId } = request.params as { secretId: string };
        const row = store.db
            .prepare("SELECT * FROM algorithm_secrets WHERE id = ? AND algorithm_id = ?")
            .get(secretId.toLowerCase(), algo.id) as SecretRow | undefined;
        if (!row) throw new ApiError(404, `No secret ${secretId} for this algorithm`, ErrorCode.SecretNotFound);
        return row;
    };

    app.put("/v1/algorithms/:id/secrets/:secretId", async (request) => {
        const existing = findSecret(request);
        const fields = checkFields(objectBody(request.body), existing.algorithm_id, false);
        return store.transaction(() => {
            if (fields.secret_key) duplicateKey(existing.algorithm_id, fields.secret_key, existing.id);
            const row: SecretRow = { ...existing, ...fields, modified: new Date().toISOString() };
            store.db
                .prepare(
                    `UPDATE algorithm_secrets SET short_name = @short_name, description = @description,
                secret_key = @secret_key, secret_value = @secret_value, modified = @modified WHERE id = @id`,
                )
                .run(row);
            return secretObject(row);
        });
    });

    app.delete("/v1/algorithms/:id/secrets/:secretId", async (request, reply) => {
        const row = findSecret(request);
        store.transaction(() => store.db.prepare("DELETE FROM algorithm_secrets WHERE id = ?").run(row.id));
        return reply.status(204).send();
    });
}
