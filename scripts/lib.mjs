// Shared by `npm start` and `npm test`: plain Node (no dependencies), because these run
// before anything is installed on a fresh clone.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stampFile = path.join(root, 'node_modules', '.fleet-install-stamp');

/** Environment for every child: no telemetry, no update checks (the machine may be offline). */
export const quietEnv = {
  ...process.env,
  TURBO_TELEMETRY_DISABLED: '1',
  TURBO_NO_UPDATE_NOTIFIER: '1',
  NEXT_TELEMETRY_DISABLED: '1',
  DO_NOT_TRACK: '1',
};

/** Runs a command with inherited stdio; resolves to its exit code. */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit', env: quietEnv, ...options });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** Runs a command and exits this process with its code when it fails. */
export async function must(command, args, what) {
  const code = await run(command, args);
  if (code !== 0) {
    console.error(`\n${what} failed (exit code ${code}).`);
    process.exit(code);
  }
}

function installFingerprint() {
  const hash = createHash('sha256');
  const files = ['package.json', 'package-lock.json'];
  for (const group of ['apps', 'packages']) {
    const dir = path.join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) files.push(path.join(group, name, 'package.json'));
  }
  for (const f of files) {
    const p = path.join(root, f);
    hash.update(f).update('\0').update(existsSync(p) ? readFileSync(p) : '').update('\0');
  }
  hash.update(process.version);
  return hash.digest('hex');
}

/** Installs dependencies when node_modules is missing or older than the manifests/lockfile. */
export async function ensureDependencies() {
  const fingerprint = installFingerprint();
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === fingerprint) return;
  const fresh = !existsSync(path.join(root, 'node_modules'));
  console.log(fresh ? 'Installing dependencies (npm ci)…' : 'Dependencies changed; running npm install…');
  await must('npm', fresh ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'], 'Installing dependencies');
  writeFileSync(stampFile, installFingerprint());
}

export const turbo = path.join(root, 'node_modules', '.bin', 'turbo');
