/**
 * Environment variables that point an agent (child process, or the SDK in-process) at the fakes,
 * one function per credential scenario, plus helpers to apply them in-process and restore.
 *
 * Every scenario also neutralises the developer's own AWS setup: shared config/credentials files
 * point at paths that do not exist, and every other credential variable is explicitly unset
 * (`undefined`, which `child_process.spawn` drops and {@link applyEnv} deletes).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FakeContainerCredentials } from './container-credentials.js';
import type { FakeImds } from './imds.js';
import type { FakeSts } from './sts.js';

/** Variables to set; `undefined` means "must be unset". */
export type AwsEnv = Record<string, string | undefined>;

/** A scenario's environment and how to clean up the files it wrote. */
export interface AwsScenarioEnv {
  env: AwsEnv;
  /** Web identity token file (IRSA) or container token file (pod identity with `useTokenFile`). */
  tokenFile?: string;
  /** Rewrites the token file (simulates kubelet rotating a projected token). */
  writeToken?(token: string): Promise<void>;
  /** Removes files written for the scenario. */
  cleanup(): Promise<void>;
}

/** Common options of the scenarios. */
export interface ScenarioOptions {
  /** `AWS_REGION` (default the fake's region, or `us-east-1`). */
  region?: string;
  /** Fake STS to route `AWS_ENDPOINT_URL_STS` to (needed for IRSA; for AssumeRole on top of any scenario). */
  sts?: Pick<FakeSts, 'url'>;
}

const NOWHERE = path.join(tmpdir(), 'fleet-fake-aws-does-not-exist');

/** Every AWS variable that could make the SDK use something other than the fakes, unset. */
export const AWS_ENV_TO_CLEAR: readonly string[] = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_SDK_LOAD_CONFIG',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_EC2_METADATA_SERVICE_ENDPOINT',
  'AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE',
  'AWS_EC2_METADATA_V1_DISABLED',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_STS',
  'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
];

/**
 * The isolation baseline: no credential variables, no real config files, region set, STS routed
 * to the fake if given. IMDS is disabled unless a scenario enables it, so a failing provider never
 * reaches for a real 169.254.169.254.
 */
export function isolatedAwsEnv(options: ScenarioOptions = {}): AwsEnv {
  const env: AwsEnv = Object.fromEntries(AWS_ENV_TO_CLEAR.map((k) => [k, undefined]));
  const region = options.region ?? 'us-east-1';
  Object.assign(env, {
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_CONFIG_FILE: path.join(NOWHERE, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(NOWHERE, 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  if (options.sts) env.AWS_ENDPOINT_URL_STS = options.sts.url;
  return env;
}

/** EC2 instance profile through the fake IMDS (`AWS_EC2_METADATA_SERVICE_ENDPOINT`). */
export async function ec2Env(imds: Pick<FakeImds, 'url' | 'region'>, options: ScenarioOptions = {}): Promise<AwsScenarioEnv> {
  const env = isolatedAwsEnv({ ...options, region: options.region ?? imds.region });
  env.AWS_EC2_METADATA_DISABLED = 'false';
  env.AWS_EC2_METADATA_SERVICE_ENDPOINT = imds.url;
  return { env, cleanup: async () => {} };
}

/**
 * IRSA (EKS IAM roles for service accounts): the web identity token is written to a temp file
 * (`AWS_WEB_IDENTITY_TOKEN_FILE`), `AWS_ROLE_ARN` names the role, STS is the fake.
 */
export async function irsaEnv(
  sts: Pick<FakeSts, 'url' | 'roles'>,
  roleArn: string,
  options: Omit<ScenarioOptions, 'sts'> & { token?: string; sessionName?: string } = {},
): Promise<AwsScenarioEnv> {
  const token = options.token ?? sts.roles.get(roleArn)?.webIdentityToken;
  if (token === undefined) throw new Error(`irsaEnv: no token given and role ${roleArn} has no webIdentityToken in the fake STS`);
  const dir = await mkdtemp(path.join(tmpdir(), 'fleet-fake-irsa-'));
  const tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, token, { mode: 0o600 });
  const env = isolatedAwsEnv({ ...options, sts });
  env.AWS_WEB_IDENTITY_TOKEN_FILE = tokenFile;
  env.AWS_ROLE_ARN = roleArn;
  if (options.sessionName) env.AWS_ROLE_SESSION_NAME = options.sessionName;
  return {
    env,
    tokenFile,
    writeToken: (t) => writeFile(tokenFile, t, { mode: 0o600 }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * EKS Pod Identity / ECS container credentials through the fake endpoint
 * (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN`, or the
 * `…_TOKEN_FILE` variant the Pod Identity webhook really injects when `useTokenFile`).
 */
export async function podIdentityEnv(
  container: Pick<FakeContainerCredentials, 'url' | 'token'>,
  options: ScenarioOptions & { useTokenFile?: boolean } = {},
): Promise<AwsScenarioEnv> {
  const env = isolatedAwsEnv(options);
  env.AWS_CONTAINER_CREDENTIALS_FULL_URI = container.url;
  if (!options.useTokenFile) {
    env.AWS_CONTAINER_AUTHORIZATION_TOKEN = container.token;
    return { env, cleanup: async () => {} };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'fleet-fake-pod-identity-'));
  const tokenFile = path.join(dir, 'eks-pod-identity-token');
  await writeFile(tokenFile, container.token, { mode: 0o600 });
  env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE = tokenFile;
  return {
    env,
    tokenFile,
    writeToken: (t) => writeFile(tokenFile, t, { mode: 0o600 }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Applies `env` to `process.env` (deleting `undefined` entries); returns a function restoring the previous values. */
export function applyEnv(env: AwsEnv): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(env)) {
    saved.set(key, process.env[key]);
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return () => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

/** Runs `fn` with `env` applied to `process.env`, restoring it afterwards (even on failure). */
export async function withEnv<T>(env: AwsEnv, fn: () => Promise<T> | T): Promise<T> {
  const restore = applyEnv(env);
  try {
    return await fn();
  } finally {
    restore();
  }
}

/**
 * Per-test AWS environment for in-process SDK calls: `useEnv`/`useScenario` apply an
 * environment (the SDK reads env vars at call time); `restore()` (call in afterEach) puts the
 * previous one back and cleans up scenario files.
 */
export function envSandbox() {
  let restoreEnv: (() => void) | undefined;
  const scenarios: AwsScenarioEnv[] = [];
  const useEnv = (env: AwsEnv): void => {
    restoreEnv?.();
    restoreEnv = applyEnv(env);
  };
  return {
    useEnv,
    /** Cleans the scenario up in `restore()` without applying its environment here. */
    track(scenario: AwsScenarioEnv): AwsScenarioEnv {
      scenarios.push(scenario);
      return scenario;
    },
    async useScenario(s: Promise<AwsScenarioEnv>): Promise<AwsScenarioEnv> {
      const scenario = await s;
      scenarios.push(scenario);
      useEnv(scenario.env);
      return scenario;
    },
    async restore(): Promise<void> {
      restoreEnv?.();
      restoreEnv = undefined;
      await Promise.all(scenarios.splice(0).map((s) => s.cleanup()));
    },
  };
}
