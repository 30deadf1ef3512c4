/**
 * Loads the AWS SDK's CommonJS builds inside Vitest workers.
 *
 * The root Vitest config resolves with the `module` condition and passes it to the worker
 * processes (`--conditions module`). For `@aws-sdk/*` and `@smithy/*` packages that condition
 * selects `dist-es`, a bundler-only build with extensionless relative imports that Node cannot
 * load (`Cannot find module …/dist-es/…/emitWarningIfUnsupportedVersion`). {@link requireSdk}
 * requires the SDK through Node's CommonJS loader with a resolution hook that sends any
 * `@aws-sdk`/`@smithy`/`@aws-crypto` resolution landing in `dist-es` to the package's
 * `require`/`node` export instead; the hook stays installed because the SDK also requires
 * modules lazily at call time. Outside such a worker the hook never fires.
 */
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';

type ResolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
type ExportEntry = string | null | { [condition: string]: ExportEntry } | ExportEntry[];

const moduleInternals = Module as unknown as { _resolveFilename: ResolveFilename };
const localRequire = createRequire(import.meta.url);
let installed = false;

function pickCjs(entry: ExportEntry | undefined): string | undefined {
  if (entry === undefined || entry === null) return undefined;
  if (typeof entry === 'string') return entry;
  if (Array.isArray(entry)) {
    for (const e of entry) {
      const t = pickCjs(e);
      if (t) return t;
    }
    return undefined;
  }
  return pickCjs(entry.require) ?? pickCjs(entry.node) ?? pickCjs(entry.default);
}

function cjsInstead(request: string, resolved: string): string | undefined {
  const marker = `${path.sep}node_modules${path.sep}`;
  const at = resolved.lastIndexOf(marker);
  if (at < 0 || !resolved.includes(`${path.sep}dist-es${path.sep}`)) return undefined;
  const parts = resolved.slice(at + marker.length).split(path.sep);
  const pkgName = `${parts[0]}/${parts[1]}`;
  if (!/^@(aws-sdk|smithy|aws-crypto)\//.test(pkgName) || !(request === pkgName || request.startsWith(`${pkgName}/`))) return undefined;
  const pkgDir = path.join(resolved.slice(0, at + marker.length), parts[0]!, parts[1]!);
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { main?: string; exports?: Record<string, ExportEntry> };
  const subpath = `.${request.slice(pkgName.length)}`;
  const target = pickCjs(pkg.exports?.[subpath]) ?? (subpath === '.' ? pkg.main : undefined);
  return target ? path.join(pkgDir, target) : undefined;
}

/** Installs the resolution hook (idempotent). */
export function installSdkCjsResolution(): void {
  if (installed) return;
  installed = true;
  const original = moduleInternals._resolveFilename;
  moduleInternals._resolveFilename = function resolveFilename(this: unknown, request, parent, isMain, options) {
    const resolved = original.call(this, request, parent, isMain, options);
    return cjsInstead(request, resolved) ?? resolved;
  };
}

/**
 * `require(specifier)` of an SDK package through its CommonJS build, typed by the caller:
 * `const { STSClient } = requireSdk<typeof import('@aws-sdk/client-sts')>('@aws-sdk/client-sts')`
 * (or with `import type * as Sts from '@aws-sdk/client-sts'` and `typeof Sts`).
 */
export function requireSdk<T>(specifier: string): T {
  installSdkCjsResolution();
  return localRequire(specifier) as T;
}
