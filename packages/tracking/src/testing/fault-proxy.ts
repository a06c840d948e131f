// A hand-written HTTP proxy in front of a real MLflow server, for fault injection only: it can
// answer some requests itself (503 bursts, 429 with Retry-After, 401) and forwards the rest.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Injected {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface ProxyRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** What the proxy did: the injected status, or 'forwarded'. */
  outcome: number | 'forwarded';
}

export class FaultProxy {
  readonly requests: ProxyRequest[] = [];
  /** Decides per request: return an injected answer, or null to forward to the real server. */
  plan: (method: string, path: string, headers: IncomingMessage['headers']) => Injected | null = () => null;
  #server: Server;
  uri = '';

  constructor(readonly upstream: string | null) {
    this.#server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const path = req.url ?? '/';
      const injected = this.plan(req.method ?? 'GET', path, req.headers);
      this.requests.push({ method: req.method ?? 'GET', path, headers: req.headers, outcome: injected ? injected.status : 'forwarded' });
      if (injected || !this.upstream) {
        const inj = injected ?? { status: 502, body: 'no upstream' };
        res.writeHead(inj.status, { 'content-type': 'application/json', ...inj.headers });
        res.end(inj.body ?? '');
        return;
      }
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'authorization']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      const up = await fetch(this.upstream + path, {
        method: req.method,
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      });
      const body = Buffer.from(await up.arrayBuffer());
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' });
      res.end(body);
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.uri = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  count(pathPart: string, outcome?: number | 'forwarded'): number {
    return this.requests.filter((r) => r.path.includes(pathPart) && (outcome === undefined || r.outcome === outcome)).length;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
