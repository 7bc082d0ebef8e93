// The platform API on a Unix socket, for algorithms with network_access "isolated": their workers run in a
// network namespace of their own (server/runtime/workers.ts), where the server's TCP port is out of reach but a
// socket file is not. Each connection is relayed to the server's own TCP listener, so it is the same API.
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

export interface ApiSocket {
    path: string;
    close(): Promise<void>;
}

/** Listens on <dataDir>/api.sock (a temporary directory when that path is too long for a socket). */
export async function listenApiSocket(dataDir: string, port: number, host: string): Promise<ApiSocket> {
    let socketPath = path.join(path.resolve(dataDir), "api.sock");
    let tempDir: string | undefined;
    if (Buffer.byteLength(socketPath) > 100) {
        // sun_path holds 108 bytes
        tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "algorithmia-api-"));
        socketPath = path.join(tempDir, "api.sock");
    }
    fs.rmSync(socketPath, { force: true }); // left by a server that did not close
    const connections = new Set<net.Socket>();
    const server = net.createServer((client) => {
        const upstream = net.connect(port, host);
        for (const socket of [client, upstream]) {
            connections.add(socket);
            socket.on("close", () => connections.delete(socket));
        }
        client.on("error", () => upstream.destroy());
        upstream.on("error", () => client.destroy());
        client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(socketPath, () => resolve());
    });
    return {
        path: socketPath,
        async close() {
            for (const socket of connections) socket.destroy();
            await new Promise<void>((resolve) => server.close(() => resolve()));
            fs.rmSync(tempDir ?? socketPath, { recursive: true, force: true });
        },
    };
}
