/**
 * Entry point of the control-plane process: one Node process that owns the database and serves
 * the UI (Next.js), the tRPC API, the health endpoints and the agent gateway (enrollment and
 * the agent WebSocket channel).
 *
 * Settings (environment): HOST, PORT, DATA_DIR, DATABASE_URL, LOG_LEVEL, TRUSTED_PROXIES,
 * TRUSTED_ORIGINS, TLS_CERT_FILE/TLS_KEY_FILE and the rest of config.ts. A bad setting ends the
 * process with one line naming it and exit code 1 (2 for start-up failures of other kinds).
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { authSecret, createAuth, ensureAdminFromEnv, issueSetupToken, type Auth } from '@fleet/core';
import { DatabaseSetupError, openDatabase, type DatabaseHandle } from '@fleet/db';
import { AgentChannel } from '@fleet/gateway';
import nextPackage from 'next';
import { ConfigError, loadConfig } from './config.js';
import { createControlPlaneServer } from './http.js';
import { createLogger, type Logger } from './logger.js';
import { startMaintenance } from './maintenance.js';

/** The app directory (where `.next` lives), the same from server/ and dist/server/. */
const here = path.dirname(fileURLToPath(import.meta.url));
const appDir = path.resolve(here, path.basename(path.dirname(here)) === 'dist' ? '../..' : '..');
const version = (JSON.parse(readFileSync(path.join(appDir, 'package.json'), 'utf8')) as { version: string }).version;

const SHUTDOWN_GRACE_MS = 10_000;

// `next` is CommonJS: at run time the default import is the factory itself, while its types
// (read under NodeNext) put the factory on `.default`.
const createNext = nextPackage as unknown as typeof nextPackage.default;

async function main(): Promise<void> {
  // Everything this process writes (PGlite files, caches) is for its own user only, whichever database it uses.
  process.umask(0o077);
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel);

  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  let nextApp: ReturnType<typeof createNext> | undefined;
  try {
    logger.info({ database: database.kind, location: database.location }, 'database opened');
    const { applied } = await database.migrate();
    logger.info({ applied }, applied > 0 ? `applied ${applied} migration(s)` : 'database schema up to date');
    const admin = await ensureAdminFromEnv(database.db, config.adminEmail, config.adminPassword);
    if (admin === 'created') logger.info({ email: config.adminEmail }, 'created the first admin from ADMIN_EMAIL');

    nextApp = createNext({ dev: config.dev, dir: appDir, hostname: config.host, port: config.port, quiet: !config.dev });
    await nextApp.prepare();
  } catch (err) {
    await database.close().catch(() => undefined);
    throw err;
  }
  const handleUi = nextApp.getRequestHandler();
  const handleUiUpgrade = config.dev ? nextApp.getUpgradeHandler() : undefined;
  const channel = await AgentChannel.start({
    database,
    log: (level, msg, fields) => logger[level](fields ?? {}, msg),
    ...(config.heartbeatIntervalMs ? { heartbeatIntervalMs: config.heartbeatIntervalMs } : {}),
  });

  let auth: Auth | null = null;
  let trustedOrigins: readonly string[] = [];
  const { server, drain } = createControlPlaneServer({
    database,
    logger,
    version,
    ui: (req, res) => handleUi(req, res),
    auth: () => auth,
    stsEndpoints: config.stsEndpoints,
    channel,
    uiUpgrade: handleUiUpgrade && ((req, socket, head) => void handleUiUpgrade(req, socket, head)),
    trustedProxies: config.trustedProxies,
    trustedOrigins: () => trustedOrigins,
    tls: config.tls,
    dev: config.dev,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
  const loopbacks = ['localhost', '127.0.0.1', '[::1]'];
  const wildcard = ['0.0.0.0', '::', '[::]'].includes(config.host) || config.host === '';
  const scheme = config.tls ? 'https' : 'http';
  const publicUrl = config.publicUrl ?? `${scheme}://${wildcard ? 'localhost' : shownHost}:${port}`;
  // The same server is reachable as localhost, 127.0.0.1 and ::1: all are the same origin to
  // operators. better-auth (sign-in) and the API's cross-origin check trust the same list.
  const ownOrigins = [publicUrl, ...loopbacks.map((h) => `${scheme}://${h}:${port}`), ...(wildcard ? [] : [`${scheme}://${shownHost}:${port}`])];
  trustedOrigins = [...new Set([...ownOrigins.map((o) => new URL(o).origin), ...config.trustedOrigins])];
  auth = createAuth({
    database,
    secret: await authSecret(database.db, config.authSecret),
    baseURL: publicUrl,
    trustedOrigins: [...trustedOrigins],
  });
  const setupToken = await issueSetupToken(database.db);
  if (setupToken) {
    // A one-time link: printed once for the person starting the server, never written to the JSON log.
    process.stdout.write(`\nFirst run: create the admin account at ${publicUrl}/setup?token=${setupToken}\n(valid 24 hours, once; or set ADMIN_EMAIL and ADMIN_PASSWORD)\n\n`);
  }
  logger.info(
    { url: publicUrl, version, listen: `${scheme}://${shownHost}:${port}`, ...(config.trustedProxies.ranges.length ? { trustedProxies: config.trustedProxies.ranges } : {}) },
    `control plane listening on ${publicUrl}`,
  );

  const maintenance = startMaintenance({ database, logger, intervalMs: config.statsIntervalMs });
  const closeBackground = async () => {
    await channel.close();
    await maintenance.stop();
  };
  installShutdown({ logger, database, server, drain, closeChannel: closeBackground, closeUi: () => nextApp?.close?.() });
}

function installShutdown(parts: {
  logger: Logger;
  database: DatabaseHandle;
  server: Server | HttpsServer;
  drain(): void;
  closeChannel(): Promise<void>;
  closeUi(): Promise<void> | void;
}): void {
  const { logger, database, server } = parts;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    parts.drain();
    // Agents are told to come back after a random delay (to this or another replica).
    const channelClosed = parts.closeChannel().catch((err: unknown) => logger.warn({ err }, 'closing agent sessions failed'));
    const force = setTimeout(() => {
      logger.warn('connections still open after grace period; closing them');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      void (async () => {
        clearTimeout(force);
        await channelClosed;
        await Promise.resolve(parts.closeUi()).catch((err: unknown) => logger.warn({ err }, 'closing the UI failed'));
        await database.close().catch((err: unknown) => logger.error({ err }, 'closing the database failed'));
        logger.info('stopped');
        process.exit(0);
      })();
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof DatabaseSetupError) {
    process.stderr.write(`fleet control plane: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`fleet control plane: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
});
