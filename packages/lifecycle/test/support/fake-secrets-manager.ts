// A loopback Secrets Manager speaking the JSON 1.1 protocol for GetSecretValue, for the real SDK client.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export class FakeSecretsManager {
  readonly secrets = new Map<string, string>();
  readonly reads: string[] = [];
  private server: Server | undefined;
  url = "";

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const target = String(req.headers["x-amz-target"] ?? "");
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify(body));
      };
      if (target !== "secretsmanager.GetSecretValue") {
        return send(400, { __type: "UnknownOperationException", message: target });
      }
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString()) as { SecretId: string };
      this.reads.push(SecretId);
      const value = this.secrets.get(SecretId);
      if (value === undefined) {
        return send(400, {
          __type: "ResourceNotFoundException",
          message: "Secrets Manager can't find the specified secret.",
        });
      }
      send(200, {
        ARN: SecretId,
        Name: SecretId.split(":").at(-1),
        SecretString: value,
        VersionId: "v1",
        CreatedDate: 1767225600,
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}
