import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { runCli } from '../cli/main.js';
import { ControlChannel, type ChannelAgent } from './channel.js';
import { CaFileError, loadServerTrust } from './tls.js';

/**
 * A control plane stand-in over real TLS: a private CA (made with openssl here) signs the
 * server's certificate for 127.0.0.1; POST /agent/v1/enroll answers an enrollment and
 * /agent/v1/ws accepts the channel.
 */
describe('the agent trusts a custom CA for the control plane (--ca-file)', () => {
  let dir: string;
  let caFile: string;
  let server: Server;
  let url: string;
  const hellos: unknown[] = [];
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-agent-tls-'));
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Fleet test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    await writeFile(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
    caFile = path.join(dir, 'ca.pem');

    server = createServer({ key: await readFile(path.join(dir, 'server.key')), cert: await readFile(path.join(dir, 'server.pem')) }, (req, res) => {
      if (req.method === 'POST' && req.url === '/agent/v1/enroll') {
        req.resume();
        req.on('end', () => {
          res.writeHead(201, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ agentId: randomUUID(), agentSecret: 's'.repeat(43), heartbeatIntervalMs: 15_000 }));
        });
        return;
      }
      res.writeHead(404).end();
    });
    const wss = new WebSocketServer({ server, path: '/agent/v1/ws' });
    wss.on('connection', (ws) => ws.on('message', (data) => hellos.push(JSON.parse(String(data)))));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    delete process.env.FLEET_CA_FILE;
  });

  function capture() {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((m: unknown) => void lines.push(String(m)));
    vi.spyOn(console, 'error').mockImplementation((m: unknown) => void lines.push(String(m)));
    return lines;
  }

  it('fleet-agent enroll over HTTPS succeeds with --ca-file and FLEET_CA_FILE, and fails naming the option without', async () => {
    let out = capture();
    expect(await runCli(['enroll', '--server', url, '--token', 'fleet_t_x', '--state-dir', path.join(dir, 'untrusted')])).toBe(1);
    expect(out).toEqual([expect.stringMatching(/^fleet-agent: cannot reach https:\/\/127\.0\.0\.1:\d+: UNABLE_TO_VERIFY_LEAF_SIGNATURE \(the server's certificate is not signed by a public CA: give its CA with --ca-file PATH or FLEET_CA_FILE\)$/)]);

    vi.restoreAllMocks();
    out = capture();
    expect(await runCli(['enroll', '--server', url, '--token', 'fleet_t_x', '--state-dir', path.join(dir, 'trusted'), '--ca-file', caFile])).toBe(0);
    expect(out[0]).toMatch(new RegExp(`^enrolled with ${url.replace(/\./g, '\\.')} as agent [0-9a-f-]{36}`));

    vi.restoreAllMocks();
    out = capture();
    process.env.FLEET_CA_FILE = caFile;
    expect(await runCli(['enroll', '--server', url, '--token', 'fleet_t_x', '--state-dir', path.join(dir, 'from-env')])).toBe(0);
    expect(out[0]).toMatch(/^enrolled with /);
  });

  it('an unreadable or invalid CA file stops enroll and run with one line naming the option', async () => {
    await writeFile(path.join(dir, 'junk.pem'), 'not a certificate\n');
    const pem = await readFile(caFile, 'utf8');
    await writeFile(path.join(dir, 'broken.pem'), pem.replace(/(-----BEGIN CERTIFICATE-----\n)(.{8})/, '$1AAAAAAAA'));
    const cases: Array<[string[], RegExp]> = [
      [['enroll', '--server', url, '--token', 't', '--state-dir', path.join(dir, 'x'), '--ca-file', path.join(dir, 'missing.pem')], /^fleet-agent: --ca-file \S+missing\.pem: cannot read it \(ENOENT\)$/],
      [['enroll', '--server', url, '--token', 't', '--state-dir', path.join(dir, 'x'), '--ca-file', path.join(dir, 'junk.pem')], /^fleet-agent: --ca-file \S+junk\.pem: holds no PEM certificate/],
      [['run', '--server', url, '--state-dir', path.join(dir, 'x'), '--ca-file', path.join(dir, 'broken.pem')], /^fleet-agent: --ca-file \S+broken\.pem: certificate 1 of 1 is not a valid X\.509 certificate/],
      [['run', '--server', url, '--state-dir', path.join(dir, 'x'), '--ca-file', dir], /^fleet-agent: --ca-file \S+: cannot read it \(EISDIR\)$/],
    ];
    for (const [args, message] of cases) {
      vi.restoreAllMocks();
      const out = capture();
      expect(await runCli(args), args.join(' ')).toBe(2);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatch(message);
    }
    vi.restoreAllMocks();
    const out = capture();
    process.env.FLEET_CA_FILE = path.join(dir, 'missing.pem');
    expect(await runCli(['enroll', '--server', url, '--token', 't', '--state-dir', path.join(dir, 'x')])).toBe(2);
    expect(out[0]).toMatch(/^fleet-agent: FLEET_CA_FILE \S+missing\.pem: cannot read it \(ENOENT\)$/);
    await expect(loadServerTrust(path.join(dir, 'junk.pem'))).rejects.toBeInstanceOf(CaFileError);
  });

  it('the wss channel connects with the CA and says why it cannot without', async () => {
    const agent: ChannelAgent = { runningConfigHash: () => null, apply: async () => undefined, heartbeat: () => Promise.reject(new Error('not in this test')) };
    const state = { server: url, agentId: randomUUID(), agentSecret: 's'.repeat(43), enrolledAt: new Date().toISOString() };
    const description = async () => ({ hostname: 'h', platform: 'linux', arch: 'x64', agentVersion: '0.1.0', labels: {} }) as never;
    const untrustedLogs: string[] = [];
    let sawError!: () => void;
    const errored = new Promise<void>((resolve) => (sawError = resolve));
    const untrusted = new ControlChannel({ state, description, agent, log: (_l, msg) => (untrustedLogs.push(msg), msg.startsWith('cannot reach') && sawError()), minBackoffMs: 60_000 });
    untrusted.start();
    await errored;
    await untrusted.stop();
    expect(untrustedLogs).toContain("cannot reach the control plane; keeps running the last config (the server's certificate is not signed by a public CA: give its CA with --ca-file PATH or FLEET_CA_FILE)");

    let connected!: () => void;
    const opened = new Promise<void>((resolve) => (connected = resolve));
    const trusted = new ControlChannel({ state, description, agent, log: (_l, msg) => msg === 'connected to the control plane' && connected(), trust: await loadServerTrust(caFile) });
    const before = hellos.length;
    trusted.start();
    await opened;
    await vi.waitFor(() => expect(hellos.length).toBe(before + 1));
    expect(hellos.at(-1)).toMatchObject({ type: 'hello' });
    await trusted.stop();
  });
});
