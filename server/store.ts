// Durable state of algorithmia-local: metadata in SQLite (WAL, synchronous=FULL, so a committed transaction
// survives kill -9), file contents under <dataDir>/files. Each API area declares its own tables with `migrate`.
import Database = require("better-sqlite3");
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

export interface Account {
    name: string;
    kind: "user" | "org";
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
                username TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE
            );
            CREATE TABLE IF NOT EXISTS org_members (
                org TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                username TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                role TEXT NOT NULL DEFAULT 'member',
                PRIMARY KEY (org, username)
            );
        `);
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

    /** Creates the user if missing and makes `key` one of its API keys. */
    ensureUser(name: string, key: string): void {
        this.transaction(() => {
            this.ensureAccount(name, "user");
            this.db.prepare("INSERT OR REPLACE INTO api_keys (key_sha256, username) VALUES (?, ?)")
                .run(sha256(key), this.account(name)!.name);
        });
    }

    /** Creates the organization if missing and adds `members` (users that must exist) to it. */
    ensureOrg(name: string, members: string[]): void {
        this.transaction(() => {
            this.ensureAccount(name, "org");
            for (const member of members) {
                const user = this.account(member);
                if (user?.kind !== "user") throw new Error(`organization ${name}: no user named ${member}`);
                this.db.prepare("INSERT OR IGNORE INTO org_members (org, username, role) VALUES (?, ?, 'member')")
                    .run(name, user.name);
            }
        });
    }

    private ensureAccount(name: string, kind: Account["kind"]): void {
        const existing = this.account(name);
        if (existing && existing.kind !== kind) throw new Error(`${name} already exists as a ${existing.kind}`);
        if (!existing) {
            this.db.prepare("INSERT INTO accounts (name, kind, id, created_at) VALUES (?, ?, ?, ?)")
                .run(name, kind, crypto.randomUUID(), new Date().toISOString());
        }
    }

    account(name: string): Account | undefined {
        return this.db.prepare("SELECT name, kind FROM accounts WHERE name = ?").get(name) as Account | undefined;
    }

    userForKey(key: string): string | undefined {
        const row = this.db.prepare("SELECT username FROM api_keys WHERE key_sha256 = ?").get(sha256(key));
        return (row as { username: string } | undefined)?.username;
    }

    orgsOf(username: string): string[] {
        return (this.db.prepare("SELECT org FROM org_members WHERE username = ?").all(username) as { org: string }[])
            .map((r) => r.org);
    }
}

export function sha256(text: string): string {
    return crypto.createHash("sha256").update(text).digest("hex");
}
