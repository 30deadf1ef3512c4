import http from 'node:http';
import net from 'node:net';
import type { RequestSigner } from '@fleet/aws';
import { parseAgentConfigYaml, type RemoteWriteConfig } from '@fleet/pipeline';
import { Agent as UndiciAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteWriteClient, type SendOutcome } from './client.js';

/** What a failed attempt reports: the facts the heartbeat's `lastError.detail` is made of. */
type Failure = Extract<SendOutcome, { ok: false }>;

function destination(url: string, remoteTimeout = '5s'): RemoteWriteConfig {
  const config = parseAgentConfigYaml(`remote_write:\n  - name: d\n    url: ${url}\n    remote_timeout: ${remoteTimeout}\n`, 'client test');
  return config.instances[0]!.remoteWrite[0]!;
}

describe('RemoteWriteClient failure facts', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()));
  });

  /** A loopback TCP server running `onSocket` for each connection. */
  async function tcpServer(onSocket: (s: net.Socket) => void): Promise<number> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      onSocket(s);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(resolve);
        }),
    );
    return (server.address() as net.AddressInfo).port;
  }

  async function send(config: RemoteWriteConfig, signer?: RequestSigner): Promise<SendOutcome> {
    const dispatcher = new UndiciAgent();
    closers.push(() => dispatcher.destroy());
    return new RemoteWriteClient(config, { userAgent: 'test', dispatcher, signer }).send(new Uint8Array(0));
  }

  async function fail(config: RemoteWriteConfig, signer?: RequestSigner): Promise<Failure> {
    const outcome = await send(config, signer);
    expect(outcome.ok).toBe(false);
    return outcome as Failure;
  }

  it('a refused connection: stage connect, the endpoint and the address', async () => {
    const port = await tcpServer(() => undefined);
    await closers.pop()!();
    const f = await fail(destination(`http://127.0.0.1:${port}/w`));
    expect(f.error).toMatchObject({ class: 'connect', code: 'ECONNREFUSED' });
    expect(f.facts).toEqual({ endpoint: `127.0.0.1:${port}`, stage: 'connect', address: `127.0.0.1:${port}` });
  });

  it('TLS spoken to a server that is not TLS: stage tls', async () => {
    const port = await tcpServer((s) => s.once('data', () => s.destroy()));
    const f = await fail(destination(`https://127.0.0.1:${port}/w`));
    expect(f.facts).toMatchObject({ endpoint: `127.0.0.1:${port}`, stage: 'tls' });
  });

  it('a connection closed before any answer: stage request', async () => {
    const port = await tcpServer((s) => s.once('data', () => s.destroy()));
    const f = await fail(destination(`http://127.0.0.1:${port}/w`));
    expect(f.error.class).toBe('connect');
    expect(f.facts).toMatchObject({ endpoint: `127.0.0.1:${port}`, stage: 'request' });
  });

  it('no answer within remote_timeout: a timeout at stage request', async () => {
    const port = await tcpServer((s) => s.resume());
    const f = await fail(destination(`http://127.0.0.1:${port}/w`, '300ms'));
    expect(f.error.class).toBe('timeout');
    expect(f.facts).toMatchObject({ endpoint: `127.0.0.1:${port}`, stage: 'request' });
    if (f.error.code === 'TimeoutError') expect(f.facts!.timeoutMs).toBe(300);
  });

  it('credentials that cannot be resolved: stage credentials, the destination never contacted', async () => {
    let connections = 0;
    const port = await tcpServer((s) => {
      connections++;
      s.destroy();
    });
    const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const signer: RequestSigner = { service: 'aps', region: 'us-east-1', sign: () => Promise.reject(noCredentials) };
    const f = await fail(destination(`http://127.0.0.1:${port}/w`), signer);
    expect(f.error.class).toBe('no_credentials');
    expect(f.facts).toEqual({ endpoint: `127.0.0.1:${port}`, stage: 'credentials' });
    expect(connections).toBe(0);
  });

  it('an HTTP error answer: the endpoint (the default port of the scheme when the URL has none), no stage', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(503).end('overloaded');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as net.AddressInfo;
    const f = await fail(destination(`http://127.0.0.1:${port}/w`));
    expect(f.status).toBe(503);
    expect(f.facts).toEqual({ endpoint: `127.0.0.1:${port}` });
  });
});
