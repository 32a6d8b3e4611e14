import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { TestPki } from './test-pki';
import { waitFor } from './services';

/** nginx (Debian's package) as a TLS front of the Temporal dev server: mTLS, and an API key check. */
export interface TlsProxy {
  readonly address: string;
  /** What nginx logged per request: the gRPC method and the status it answered. */
  accessLog(): string;
  stop(): Promise<void>;
}

function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (existsSync(candidate)) return candidate;
  throw new Error('nginx is not installed: run `node scripts/bootstrap.mjs --test` (apt-get install nginx-light)');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts nginx on a free loopback port in front of `upstream` (host:port of the plain-text dev server). It demands
 * a client certificate signed by the PKI's CA (`ssl_verify_client on`) and, when `apiKey` is given, the header
 * `authorization: Bearer <apiKey>`, which is what the SDK sends for an API key; otherwise gRPC status 16.
 */
export async function startTlsProxy(options: { pki: TestPki; upstream: string; apiKey?: string }): Promise<TlsProxy> {
  const { pki, upstream, apiKey } = options;
  const port = await freePort();
  const prefix = path.join(pki.dir, `nginx-${port}`);
  mkdirSync(path.join(prefix, 'tmp'), { recursive: true });
  const accessLog = path.join(prefix, 'access.log');
  writeFileSync(accessLog, '');
  const apiKeyCheck = apiKey === undefined ? '' : `if ($http_authorization != "Bearer ${apiKey}") { return 401; }`;
  const conf = `
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections 256; }
http {
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  log_format grpc '$request_uri $status $ssl_client_verify';
  access_log ${accessLog} grpc;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${pki.serverCert};
    ssl_certificate_key ${pki.serverKey};
    ssl_client_certificate ${pki.caCert};
    ssl_verify_client on;
    # Long polls of the worker.
    grpc_read_timeout 120s;
    grpc_send_timeout 120s;
    client_max_body_size 0;
    location / {
      ${apiKeyCheck}
      grpc_pass grpc://${upstream};
    }
  }
}
`;
  const confPath = path.join(prefix, 'nginx.conf');
  writeFileSync(confPath, conf);
  const child: ChildProcess = spawn(
    nginxBinary(),
    ['-p', prefix, '-e', path.join(prefix, 'error.log'), '-c', confPath],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitFor(
    `nginx listening on 127.0.0.1:${port}`,
    async () => {
      if (exited) throw new Error(`nginx exited: ${stderr}`);
      return new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    },
    10_000,
    50,
  );
  return {
    address: `127.0.0.1:${port}`,
    accessLog: () => readFileSync(accessLog, 'utf8'),
    stop: async () => {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM'); // nginx's fast shutdown; the workers follow their master.
      await gone;
    },
  };
}
