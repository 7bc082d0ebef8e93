// Organizations (docs/api-reference.md §3.8): the routes the official Python client calls — the organization types,
// create, get, edit, and adding a member. They take an admin key (auth.ts). An organization is an account
// (store.ts) with a profile, the writable fields of the organization object; one made from ServerOptions has
// none until it is edited, and shows its name as its label.
import { FastifyInstance, FastifyRequest } from "fastify";
import { managementBodies, objectBody } from "./algorithms";
import { requireCaller } from "./auth";
import { stableId } from "./environments";
import { ApiError, ErrorCode } from "./errors";
import type { ServerContext } from "./index";
import { Account, Store } from "./store";

/** The organization types of every cluster (§3.8); clients turn a type's name into its id. */
export const ORG_TYPES = ["basic", "legacy", "pro"].map((name) => ({
    id: stableId(`organization-type:${name}`),
    name,
}));

interface Profile {
    org_label: string;
    org_contact_name: string | null;
    org_email: string | null;
    org_url: string | null;
    type_id: string;
    external_id: string | null;
    external_admin_group: string[] | null;
    external_member_group: string[] | null;
    external_executor_group: string[] | null;
    stripe_customer_id: string | null;
}

const ORG_NAME = /^[A-Za-z][A-Za-z0-9_]{0,29}$/;
const EMAIL = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+[.][a-zA-Z]{2,6}$/;
const malformed = (message: string) => new ApiError(400, message, ErrorCode.MalformedOrganizationJson);

/**
 * The profile in a create or edit body, which carries the whole object (required: org_name, org_label,
 * org_contact_name, org_email, type_id). Read-only fields (id, org_created_at, owner_ids, self_link,
 * resource_type) and unknown ones are ignored, as the client's edit sends back what it read. The spec's pattern
 * for org_contact_name (an identifier) is not applied: the client's own tests send a person's name with a space.
 */
function checkProfile(body: Record<string, unknown>): Profile {
    const text = (field: string, required: boolean, rule?: RegExp): string | null => {
        const value = body[field];
        if (value === undefined || value === null) {
            if (required) throw malformed(`${field} is required`);
            return null;
        }
        if (
            typeof value !== "string" ||
            (required && !value.trim()) ||
            value.length > 100 ||
            (rule && !rule.test(value))
        ) {
            throw malformed(
                `${field} must be a ${required ? "non-empty " : ""}string of at most 100 characters` +
                    `${rule ? ` matching ${rule.source}` : ""} (got ${JSON.stringify(value)})`,
            );
        }
        return value;
    };
    const groups = (field: string): string[] | null => {
        const value = body[field];
        if (value === undefined || value === null) return null;
        if (!Array.isArray(value) || !value.every((v) => typeof v === "string"))
            throw malformed(`${field} must be a list of strings`);
        return value;
    };
    const profile: Profile = {
        org_label: text("org_label", true)!,
        org_contact_name: text("org_contact_name", true),
        org_email: text("org_email", true, EMAIL),
        org_url: text("org_url", false),
        type_id: "",
        external_id: text("external_id", false),
        external_admin_group: groups("external_admin_group"),
        external_member_group: groups("external_member_group"),
        external_executor_group: groups("external_executor_group"),
        stripe_customer_id: text("stripe_customer_id", false),
    };
    const type = ORG_TYPES.find((t) => typeof body.type_id === "string" && t.id === body.type_id.toLowerCase());
    if (!type) {
        throw new ApiError(
            400,
            `type_id must be the id of an organization type listed by GET /v1/organization/types ` +
                `(got ${JSON.stringify(body.type_id ?? null)})`,
            ErrorCode.OrganizationTypeNotFound,
        );
    }
    profile.type_id = type.id;
    return profile;
}

function organizationObject(ctx: ServerContext, org: Account): Record<string, unknown> {
    const profile = ctx.store.orgProfile(org.name) ?? { org_label: org.name, type_id: ORG_TYPES[0].id };
    const field = (name: string) => profile[name] ?? null;
    return {
        id: org.id,
        org_name: org.name,
        org_label: field("org_label"),
        org_contact_name: field("org_contact_name"),
        org_email: field("org_email"),
        org_created_at: org.created_at.slice(0, 19), // as replies show it: seconds, no zone
        org_url: field("org_url"),
        type_id: field("type_id"),
        stripe_customer_id: field("stripe_customer_id"),
        external_admin_group: field("external_admin_group"),
        external_member_group: field("external_member_group"),
        external_executor_group: field("external_executor_group"),
        external_id: field("external_id"),
        owner_ids: ctx.store.orgOwnerIds(org.name),
        resource_type: "organization",
        self_link: `${ctx.baseUrl()}/v1/organizations/${org.name}`,
    };
}

function existingOrg(store: Store, request: FastifyRequest): Account {
    const { org } = request.params as { org: string };
    const account = store.account(org);
    if (account?.kind !== "org")
        throw new ApiError(404, `No organization named ${org}`, ErrorCode.OrganizationNotFound);
    return account;
}

export async function organizationsApi(app: FastifyInstance, ctx: ServerContext): Promise<void> {
    const store = ctx.store;
    managementBodies(app);

    app.get("/v1/organization/types", async (request) => {
        requireCaller(request);
        return ORG_TYPES;
    });

    // The caller becomes the new organization's owner.
    app.post("/v1/organizations", async (request) => {
        const caller = requireCaller(request);
        const body = objectBody(request.body);
        const name = body.org_name;
        if (typeof name !== "string" || !ORG_NAME.test(name)) {
            throw malformed(
                `org_name is required: letters, digits and underscores, starting with a letter, at most 30 characters ` +
                    `(got ${JSON.stringify(name ?? null)})`,
            );
        }
        const profile = checkProfile(body);
        const org = store.transaction(() => {
            const taken = store.account(name);
            if (taken) {
                throw new ApiError(
                    409,
                    `${taken.name} already exists as ${taken.kind === "org" ? "an organization" : "a user"}`,
                    ErrorCode.OrganizationAlreadyExists,
                );
            }
            store.ensureOrg(name, []);
            store.setOrgProfile(name, profile);
            store.addOrgMember(name, caller.username, "owner");
            return store.account(name)!;
        });
        return organizationObject(ctx, org);
    });

    app.get("/v1/organizations/:org", async (request) => {
        requireCaller(request);
        return organizationObject(ctx, existingOrg(store, request));
    });

    app.put("/v1/organizations/:org", async (request, reply) => {
        requireCaller(request);
        const org = existingOrg(store, request);
        const body = objectBody(request.body);
        if (typeof body.org_name !== "string" || body.org_name.toLowerCase() !== org.name.toLowerCase()) {
            throw malformed(
                `org_name must be the organization's name ${org.name}: an organization cannot be renamed ` +
                    `(got ${JSON.stringify(body.org_name ?? null)})`,
            );
        }
        const profile = checkProfile(body);
        store.transaction(() => store.setOrgProfile(org.name, profile));
        reply.status(204).send();
    });

    // 201 when the user joins, 200 when it was a member already.
    app.put("/v1/organizations/:org/members/:username", async (request, reply) => {
        requireCaller(request);
        const org = existingOrg(store, request);
        const { username } = request.params as { username: string };
        const user = store.account(username);
        if (user?.kind !== "user") throw new ApiError(404, `No user named ${username}`, ErrorCode.UserNotFound);
        const added = store.transaction(() => store.addOrgMember(org.name, user.name, "member"));
        reply.status(added ? 201 : 200).send();
    });
}
