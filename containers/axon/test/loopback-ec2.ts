// EC2's Query API on loopback for the real EC2 client (tests of the address claim): AssociateAddress only, signed
// requests only, the first call throttled (RequestLimitExceeded) so the caller's retry is exercised.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";

/** EC2's Query protocol on loopback: form-encoded Action=AssociateAddress in, XML out; the first call is throttled. */
export class LoopbackEc2 {
  readonly calls: Record<string, string>[] = [];
  #server: Server | undefined;
  url = "";
  async start(): Promise<this> {
    this.#server = createServer(async (req: IncomingMessage, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      const params = Object.fromEntries(new URLSearchParams(body));
      this.calls.push(params);
      res.setHeader("content-type", "text/xml");
      if (params.Action !== "AssociateAddress" || !req.headers.authorization?.startsWith("AWS4-HMAC-SHA256")) {
        res.statusCode = 400;
        res.end("<Response><Errors><Error><Code>InvalidAction</Code><Message>no</Message></Error></Errors></Response>");
        return;
      }
      if (this.calls.length === 1) {
        res.statusCode = 503;
        res.end(
          "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow down</Message></Error></Errors><RequestID>r1</RequestID></Response>",
        );
        return;
      }
      res.end(
        `<AssociateAddressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r2</requestId><associationId>eipassoc-0abc1234def567890</associationId></AssociateAddressResponse>`,
      );
    }).listen(0, "127.0.0.1");
    await once(this.#server, "listening");
    this.url = `http://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
    return this;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.#server?.close(() => r()));
  }
}
