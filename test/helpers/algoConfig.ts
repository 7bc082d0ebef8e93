// An `algo` CLI config file (~/.algorithmia/config) as `algo auth` writes it: TOML, every profile with its four
// fields, an unset one as "".
import * as fs from "fs";
import * as path from "path";

const FIELDS = ["api_key", "api_server", "ca_cert", "bearer_token"];

/** Writes `profiles` as `<home>/.algorithmia/config`. */
export function writeAlgoConfig(home: string, profiles: Record<string, Record<string, string>>): void {
    const text = Object.entries(profiles)
        .map(([name, fields]) => `[profiles.${name}]\n` + FIELDS.map((f) => `${f} = "${fields[f] ?? ""}"\n`).join(""))
        .join("\n");
    fs.mkdirSync(path.join(home, ".algorithmia"), { recursive: true });
    fs.writeFileSync(path.join(home, ".algorithmia", "config"), `[profiles]\n\n${text}`, { mode: 0o600 });
}
