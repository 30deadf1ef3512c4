/**
 * Helpers of the browser tests: a fresh control plane per spec file (its own PGlite directory),
 * the first admin created through the printed setup link, and an API client (cookie session) to
 * prepare data and to sign browser contexts in without spending the sign-in rate limit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test as base, request, type APIRequestContext } from '@playwright/test';
import { startControlPlane, type RunningControlPlane } from '../support/control-plane.js';

export const ADMIN = { email: 'admin@example.com', name: 'Ada Admin', password: 'admin-password-123' };

/** A control plane on a loopback port with an empty database. */
export interface Fleet {
  server: RunningControlPlane;
  url: string;
  stop(): Promise<void>;
}

export async function startFleet(env: Record<string, string> = {}): Promise<Fleet> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'fleet-browser-'));
  const server = await startControlPlane({ DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env });
  return {
    server,
    url: server.url,
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The token of the setup link the server printed at start. */
export function setupToken(fleet: Fleet): string {
  const link = fleet.server.setupLink();
  if (!link) throw new Error(`the server printed no setup link; stdout: ${fleet.server.stdoutLines.join('\n')}`);
  return new URL(link).searchParams.get('token')!;
}

interface Envelope<T> {
  result?: { data: T };
  error?: { message: string; data?: { code?: string; httpStatus?: number } };
}

/** An operator's API session (cookies), for preparing data and for browser storage state. */
export class FleetApi {
  private constructor(
    readonly url: string,
    readonly http: APIRequestContext,
  ) {}

  /** An anonymous client. */
  static async anonymous(url: string): Promise<FleetApi> {
    return new FleetApi(url, await request.newContext({ baseURL: url, extraHTTPHeaders: { origin: url } }));
  }

  /** Signs in through better-auth (same-origin, as a browser would). */
  static async signIn(url: string, email: string, password: string): Promise<FleetApi> {
    const api = await FleetApi.anonymous(url);
    const res = await api.http.post('/api/auth/sign-in/email', { data: { email, password } });
    if (!res.ok()) throw new Error(`sign-in of ${email} failed: ${res.status()} ${await res.text()}`);
    return api;
  }

  async query<T = unknown>(procedure: string, input?: unknown): Promise<T> {
    const qs = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    return this.unwrap<T>(procedure, await this.http.get(`/api/trpc/${procedure}${qs}`));
  }

  async mutate<T = unknown>(procedure: string, input?: unknown): Promise<T> {
    return this.unwrap<T>(procedure, await this.http.post(`/api/trpc/${procedure}`, { data: input ?? null }));
  }

  private async unwrap<T>(procedure: string, res: Awaited<ReturnType<APIRequestContext['get']>>): Promise<T> {
    const body = (await res.json()) as Envelope<T>;
    if (body.error) throw new Error(`${procedure}: ${body.error.data?.code ?? res.status()} ${body.error.message}`);
    return body.result!.data;
  }

  /** Cookies for `browser.newContext({ storageState })`. */
  storageState() {
    return this.http.storageState();
  }

  dispose() {
    return this.http.dispose();
  }
}

/** Creates the first admin with the printed setup link (the API way) and signs them in. */
export async function setupAdmin(fleet: Fleet): Promise<FleetApi> {
  const anon = await FleetApi.anonymous(fleet.url);
  await anon.mutate('setup.complete', { token: setupToken(fleet), email: ADMIN.email, name: ADMIN.name, password: ADMIN.password });
  await anon.dispose();
  return FleetApi.signIn(fleet.url, ADMIN.email, ADMIN.password);
}

let accountSeq = 0;
/** Registers an AWS account with a fresh 12-digit id. */
export async function createAccount(api: FleetApi, name: string, region = 'us-east-1') {
  const accountId = String(210987654300 + ++accountSeq);
  return api.mutate<{ id: string; accountId: string; name: string; externalId: string; roleArn: string }>('accounts.create', {
    accountId,
    name,
    defaultRegion: region,
    roleArn: `arn:aws:iam::${accountId}:role/amp-writer`,
  });
}

/** An AMP remote-write document writing with a registered account. */
export function ampDocument(account: string, workspace = 'ws-0123456789', scrapeInterval = '30s') {
  return {
    global: { scrape_interval: scrapeInterval },
    scrape_configs: [{ job_name: 'node', static_configs: [{ targets: ['localhost:9100'] }] }],
    remote_write: [{ url: `https://aps-workspaces.us-east-1.amazonaws.com/workspaces/${workspace}/api/v1/remote_write`, aws_account: account }],
  };
}

/** Creates a pipeline (v1) and returns its id. */
export async function createPipeline(api: FleetApi, name: string, document: Record<string, unknown>): Promise<string> {
  const res = await api.mutate<{ pipeline: { id: string } }>('pipelines.create', { name, description: `${name} for tests`, selector: [], document, note: 'first' });
  return res.pipeline.id;
}

/**
 * Tests against a fresh control plane of their own (started once per worker, i.e. per group of
 * spec files using this fixture set), with `baseURL` pointing at it. No operator exists yet.
 */
export const test = base.extend<object, { fleet: Fleet; fleetEnv: Record<string, string> }>({
  /**
   * Extra environment of the control plane. A spec file that needs a control plane of its own
   * (e.g. one that expects empty pages) sets it with `test.use({ fleetEnv: { … } })`: a different
   * value gives it its own worker, hence its own control plane.
   */
  fleetEnv: [{}, { scope: 'worker', option: true }],
  fleet: [
    async ({ fleetEnv }, use) => {
      const fleet = await startFleet(fleetEnv);
      await use(fleet);
      await fleet.stop();
    },
    { scope: 'worker', timeout: 90_000 },
  ],
  baseURL: async ({ fleet }, use) => use(fleet.url),
});

/** As {@link test}, with the first admin created through the setup link; pages start signed in as that admin. */
export const adminTest = test.extend<object, { admin: FleetApi }>({
  admin: [
    async ({ fleet }, use) => {
      const admin = await setupAdmin(fleet);
      await use(admin);
      await admin.dispose();
    },
    { scope: 'worker', auto: true },
  ],
  storageState: async ({ admin }, use) => use(await admin.storageState()),
});
