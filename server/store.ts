// Durable state of algorithmia-local: metadata in SQLite (WAL, synchronous=FULL, so a committed transaction
// survives kill -9), file contents under <dataDir>/files. Each API area declares its own tables with `migrate`.
import Database = require("better-sqlite3");
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

export interface Account {
    name: string;
    kind: "user" | "org";
    id: string;
    created_at: string;
}

export type KeyType = "AlgorithmKey" | "PlatformAdminKey";

export interface ApiKeyRecord {
    username: string;
    keyType: KeyType;
    /** The key's permission object as configured (auth.ts fills in what it leaves out). */
    permissions: Record<string, unknown>;
}

export class Store {
    readonly db: Database.Database;
    readonly filesDir: string;
    readonly tmpDir: string;

    constructor(readonly dataDir: string) {
        fs.mkdirSync(dataDir, { recursive: true });
        this.filesDir = path.join(dataDir, "files");
        this.tmpDir = path.join(dataDir, "tmp");
        fs.mkdirSync(this.filesDir, { recursive: true });
        // Uploads are staged here and renamed into place; leftovers from a killed process are garbage.
        fs.rmSync(this.tmpDir, { recursive: true, force: true });
        fs.mkdirSync(this.tmpDir, { recursive: true });

        this.db = new Database(path.join(dataDir, "algorithmia-local.db"));
        this.db.pragma("journal_mode = WAL");
        this.db.pragma("synchronous = FULL");
        this.db.pragma("foreign_keys = ON");
        this.migrate(`
            CREATE TABLE IF NOT EXISTS accounts (
                name TEXT PRIMARY KEY COLLATE NOCASE,
                kind TEXT NOT NULL CHECK (kind IN ('user', 'org')),
                id TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS api_keys (
                key_sha256 TEXT PRIMARY KEY,
                username TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                key_type TEXT NOT NULL DEFAULT 'AlgorithmKey',
                permissions TEXT NOT NULL DEFAULT '{}'
            );
            CREATE TABLE IF NOT EXISTS org_members (
                org TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                username TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                role TEXT NOT NULL DEFAULT 'member',
                PRIMARY KEY (org, username)
            );
            -- The writable fields of an organization object (JSON); organizations made from ServerOptions have none.
            CREATE TABLE IF NOT EXISTS org_profiles (
                org TEXT PRIMARY KEY COLLATE NOCASE REFERENCES accounts(name) ON DELETE CASCADE,
                profile TEXT NOT NULL
            );
        `);
        // Keys kept before key types and permissions existed become standard keys with every permission.
        const keyColumns = (this.db.prepare("PRAGMA table_info(api_keys)").all() as { name: string }[]).map(
            (c) => c.name,
        );
        if (!keyColumns.includes("key_type"))
            this.db.exec("ALTER TABLE api_keys ADD COLUMN key_type TEXT NOT NULL DEFAULT 'AlgorithmKey'");
        if (!keyColumns.includes("permissions"))
            this.db.exec("ALTER TABLE api_keys ADD COLUMN permissions TEXT NOT NULL DEFAULT '{}'");
    }

    /** Creates an area's tables: idempotent statements (IF NOT EXISTS), run at every start. */
    migrate(sql: string): void {
        this.db.exec(sql);
    }

    /** Runs `fn` in one SQLite transaction: all of its writes land, or none. */
    transaction<T>(fn: () => T): T {
        return this.db.transaction(fn)();
    }

    close(): void {
        this.db.close();
    }

    // --- accounts -------------------------------------------------------------------------------------------

    /** Creates the user if missing and makes `key` one of its API keys, of that type and with those permissions. */
    ensureUser(name: string, key: string, keyType: KeyType = "AlgorithmKey", permissions: object = {}): void {
        this.transaction(() => {
            this.ensureAccount(name, "user");
            this.db
                .prepare(
                    "INSERT OR REPLACE INTO api_keys (key_sha256, username, key_type, permissions) VALUES (?, ?, ?, ?)",
                )
                .run(sha256(key), this.account(name)!.name, keyType, JSON.stringify(permissions));
        });
    }

    /** Creates the organization if missing and adds `members` (users that must exist) to it. */
    ensureOrg(name: string, members: string[]): void {
        this.transaction(() => {
            this.ensureAccount(name, "org");
            for (const member of members) {
                const user = this.account(member);
                if (user?.kind !== "user") throw new Error(`organization ${name}: no user named ${member}`);
                this.addOrgMember(name, user.name, "member");
            }
        });
    }

    /** Adds a user to an organization; false when it was a member already (its role stays). */
    addOrgMember(org: string, username: string, role: "owner" | "member"): boolean {
        const account = this.account(org)!;
        return (
            this.db
                .prepare("INSERT OR IGNORE INTO org_members (org, username, role) VALUES (?, ?, ?)")
                .run(account.name, this.account(username)!.name, role).changes > 0
        );
    }

    /** The account ids of an organization's owners. */
    orgOwnerIds(org: string): string[] {
        return (
            this.db
                .prepare(
                    `SELECT a.id FROM org_members m JOIN accounts a ON a.name = m.username
            WHERE m.org = ? AND m.role = 'owner' ORDER BY a.name`,
                )
                .all(org) as { id: string }[]
        ).map((r) => r.id);
    }

    orgProfile(org: string): Record<string, unknown> | undefined {
        const row = this.db.prepare("SELECT profile FROM org_profiles WHERE org = ?").get(org) as
            { profile: string } | undefined;
        return row && JSON.parse(row.profile);
    }

    setOrgProfile(org: string, profile: object): void {
        this.db
            .prepare("INSERT OR REPLACE INTO org_profiles (org, profile) VALUES (?, ?)")
            .run(this.account(org)!.name, JSON.stringify(profile));
    }

    private ensureAccount(name: string, kind: Account["kind"]): void {
        const existing = this.account(name);
        if (existing && existing.kind !== kind) throw new Error(`${name} already exists as a ${existing.kind}`);
        if (!existing) {
            this.db
                .prepare("INSERT INTO accounts (name, kind, id, created_at) VALUES (?, ?, ?, ?)")
                .run(name, kind, crypto.randomUUID(), new Date().toISOString());
        }
    }

    account(name: string): Account | undefined {
        return this.db.prepare("SELECT name, kind, id, created_at FROM accounts WHERE name = ?").get(name) as
            Account | undefined;
    }

    apiKey(key: string): ApiKeyRecord | undefined {
        const row = this.db
            .prepare("SELECT username, key_type, permissions FROM api_keys WHERE key_sha256 = ?")
            .get(sha256(key)) as { username: string; key_type: KeyType; permissions: string } | undefined;
        return row && { username: row.username, keyType: row.key_type, permissions: JSON.parse(row.permissions) };
    }

    orgsOf(username: string): string[] {
        return (
            this.db.prepare("SELECT org FROM org_members WHERE username = ?").all(username) as { org: string }[]
        ).map((r) => r.org);
    }
}

export function sha256(text: string): string {
    return crypto.createHash("sha256").update(text).digest("hex");
}
