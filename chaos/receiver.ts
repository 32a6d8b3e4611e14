import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { verifyWssRequest } from '../test/support/independent-verifier';

/**
 * The receivers' side of the chaos run: one HTTP server on 127.0.0.1 whose behaviour the nemesis switches, and a
 * record of every request. A request counts as a delivery only when its signature verifies (the independent
 * verifier of the tests, written from the README's wire format alone, within the ±5 min window) and the receiver
 * answered 2xx.
 */

/** What the receiver does with the next requests. */
export type ReceiverMode =
  | 'ok'
  /** The port is closed: connections are refused. */
  | 'refuse'
  /** Requests are read and never answered (the sender's deadline runs out). */
  | 'stall'
  /** 500 to every request. */
  | 'error_5xx'
  /** The status line and headers of a 200 are sent, then the connection is reset. */
  | 'ok_then_reset';

export interface RequestRecord {
  readonly eventId: string;
  readonly path: string;
  readonly at: number;
  /** The status the receiver answered (0: none, stalled). */
  readonly status: number;
  readonly signatureOk: boolean;
  readonly signatureProblem?: string;
  /** The request's X-WSS-Timestamp minus the receiver's clock, in seconds. */
  readonly timestampSkewS?: number;
  readonly mode: ReceiverMode;
}

export interface EventLedger {
  /** Every request, in arrival order. */
  readonly requests: RequestRecord[];
  /** Times of the validly signed 2xx answers. */
  readonly delivered: number[];
  firstRequestAt?: number;
}

export class ChaosReceiver {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly held = new Set<ServerResponse>();
  mode: ReceiverMode = 'ok';
  /** Secrets per path prefix (`/<tenant>`): the endpoint's signing secret. */
  readonly secrets = new Map<string, string>();
  readonly events = new Map<string, EventLedger>();
  /** Requests whose signature did not verify (must stay empty: a delivery the receiver cannot trust). */
  readonly badSignatures: RequestRecord[] = [];
  /** Called after a 2xx was written and flushed, with the event id (the "after the 2xx" fault moments). */
  afterOk: ((eventId: string) => void) | undefined;
  /** Called when a request arrives, before it is answered (the "mid-attempt" fault moments). */
  onArrival: ((eventId: string) => Promise<void> | void) | undefined;

  private constructor(readonly port: number) {}

  static async start(port = 0): Promise<ChaosReceiver> {
    const r = new ChaosReceiver(port);
    await r.listen(port);
    return r;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private async listen(port: number): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    (this as { port: number }).port = typeof address === 'object' && address ? address.port : port;
    this.server = server;
  }

  /** Switches the behaviour; `refuse` closes the port and every connection, leaving it re-opens it. */
  async setMode(mode: ReceiverMode): Promise<void> {
    if (mode === this.mode) return;
    if (mode === 'refuse') {
      await this.closeServer();
    } else if (this.mode === 'refuse') {
      await this.listen(this.port);
    }
    if (this.mode === 'stall') {
      for (const res of this.held) res.socket?.destroy();
      this.held.clear();
    }
    this.mode = mode;
  }

  private async closeServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async close(): Promise<void> {
    for (const res of this.held) res.socket?.destroy();
    await this.closeServer();
  }

  private ledger(eventId: string): EventLedger {
    let l = this.events.get(eventId);
    if (!l) {
      l = { requests: [], delivered: [] };
      this.events.set(eventId, l);
    }
    return l;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const at = Date.now();
    const mode = this.mode;
    const eventId = String(req.headers['x-wss-event-id'] ?? '');
    const path = req.url ?? '';
    const secret = this.secrets.get(path.split('/').slice(0, 2).join('/'));
    const signed = secret
      ? verifyWssRequest(secret, req.headers, body)
      : ({ ok: false, reason: 'no secret for this path' } as const);
    // The ledger is keyed by X-WSS-Event-Id, which the signature does not cover: the signed body must carry the same
    // id, or a request with another event's body would count as this event's delivery.
    const verdict =
      signed.ok && bodyEventId(body) !== eventId
        ? ({ ok: false, reason: 'the signed body\'s "id" differs from X-WSS-Event-Id' } as const)
        : signed;
    const ts = Number(req.headers['x-wss-timestamp']);
    const skew = Number.isFinite(ts) ? ts - at / 1000 : undefined;
    const ledger = this.ledger(eventId);
    ledger.firstRequestAt ??= at;
    if (this.onArrival) await this.onArrival(eventId);
    let status: number;
    if (!verdict.ok) status = 401;
    else if (mode === 'stall') status = 0;
    else if (mode === 'error_5xx') status = 500;
    else status = 200;
    const record: RequestRecord = {
      eventId,
      path,
      at,
      status,
      signatureOk: verdict.ok,
      ...(verdict.ok ? {} : { signatureProblem: verdict.reason }),
      ...(skew !== undefined ? { timestampSkewS: Math.round(skew) } : {}),
      mode,
    };
    ledger.requests.push(record);
    if (!verdict.ok) this.badSignatures.push(record);
    if (status === 0) {
      this.held.add(res);
      res.once('close', () => this.held.delete(res));
      return;
    }
    if (status === 200) ledger.delivered.push(at);
    if (status === 200 && mode === 'ok_then_reset') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      setImmediate(() => res.socket?.resetAndDestroy());
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(status === 200 ? 'ok' : 'chaos');
    if (status === 200 && this.afterOk) {
      const hook = this.afterOk;
      res.once('finish', () => hook(eventId));
    }
  }
}

/** The `id` of a delivered body (the service's default `{"id", "type", ..., "data"}` shape), or undefined. */
function bodyEventId(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { id?: unknown };
    return typeof parsed.id === 'string' ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}
