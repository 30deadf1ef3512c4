import { ClockOffset, createRequestSigner, dnsSuffix, ManagedCredentials, partitionOfRegion } from '@fleet/aws';
import {
  enrollChallengeResponseSchema,
  enrollErrorSchema,
  enrollResponseSchema,
  GET_CALLER_IDENTITY_BODY,
  IDENTITY_CHALLENGE_HEADER,
  type AgentDescription,
  type EnrollRequest,
} from '@fleet/protocol';
import { Agent as HttpAgent, fetch } from 'undici';
import { readAgentState, writeAgentState, type AgentState } from './state.js';
import { untrustedHint, type ServerTrust } from './tls.js';

/** Outcome of `fleet-agent enroll`. */
export type EnrollOutcome = { status: 'enrolled'; state: AgentState; identityProof?: { region: string; endpoint: string } } | { status: 'already'; state: AgentState };

/** A signed sts:GetCallerIdentity request, as the enroll request carries it. */
export type IdentityProof = NonNullable<EnrollRequest['identityProof']>;

/** The region an identity proof is signed for: `AWS_REGION`, `AWS_DEFAULT_REGION`, the EC2 instance's (IMDS), else us-east-1. */
export function identityProofRegion(description: Pick<AgentDescription, 'region'>, env: NodeJS.ProcessEnv = process.env): string {
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || description.region || 'us-east-1';
}

/**
 * The STS endpoint to sign an identity proof for, chosen like the AWS SDK does: the
 * `AWS_ENDPOINT_URL_STS` override, else the global `AWS_ENDPOINT_URL` (both ignored with
 * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), else the region's own endpoint
 * `https://sts.<region>.amazonaws.com` (`.amazonaws.com.cn` in China). The control plane sends the
 * request only to STS endpoints on its allow-list.
 */
export function stsEndpointFor(region: string, env: NodeJS.ProcessEnv = process.env): URL {
  const configured = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true' ? undefined : env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL;
  if (configured) {
    if (!URL.canParse(configured)) throw new Error(`AWS_ENDPOINT_URL_STS ${JSON.stringify(configured)} is not a URL`);
    return new URL('/', configured);
  }
  const partition = partitionOfRegion(region) ?? (region.startsWith('cn-') ? 'aws-cn' : 'aws');
  return new URL(`https://sts.${region}.${dnsSuffix(partition)}/`);
}

/**
 * Signs the identity proof: a POST of `Action=GetCallerIdentity&Version=2011-06-15` to the STS
 * endpoint, with the challenge in the signed `x-fleet-challenge` header, using the default
 * credential chain (env, profile, IRSA, Pod Identity / container, IMDSv2).
 */
export async function signIdentityProof(options: { challenge: string; region: string; endpoint: URL; clock?: ClockOffset; credentials?: ManagedCredentials }): Promise<IdentityProof> {
  const credentials = options.credentials ?? new ManagedCredentials({ region: options.region }, { resolveCallerIdentity: false });
  const signer = createRequestSigner({ service: 'sts', region: options.region, credentials, clock: options.clock ?? new ClockOffset() });
  const headers = await signer.sign({
    method: 'POST',
    url: options.endpoint,
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', [IDENTITY_CHALLENGE_HEADER]: options.challenge },
    body: Buffer.from(GET_CALLER_IDENTITY_BODY),
  });
  return { method: 'POST', url: options.endpoint.toString(), headers, body: GET_CALLER_IDENTITY_BODY };
}

/** How the enrollment reaches the control plane: its URL and, with `--ca-file`, the CAs it trusts. */
interface Connection {
  server: string;
  trust: ServerTrust | undefined;
  dispatcher: HttpAgent | undefined;
}

type HttpResponse = Awaited<ReturnType<typeof fetch>>;

async function post(to: Connection, path: string, body: unknown): Promise<{ res: HttpResponse; json: unknown; sentAt: number }> {
  const sentAt = Date.now();
  let res: HttpResponse;
  try {
    res = await fetch(`${to.server}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
      ...(to.dispatcher ? { dispatcher: to.dispatcher } : {}),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach ${to.server}: ${cause?.code ?? cause?.message ?? (err as Error).message}${untrustedHint(cause?.code, to.trust)}`, { cause: err });
  }
  return { res, json: await res.json().catch(() => ({})), sentAt };
}

function errorOf(json: unknown): { error?: string; code?: string } {
  const parsed = enrollErrorSchema.safeParse(json);
  return parsed.success ? parsed.data : {};
}

/** Fetches a challenge from the control plane and signs an identity proof around it. */
async function proveIdentity(to: Connection, description: AgentDescription, env: NodeJS.ProcessEnv): Promise<{ proof: IdentityProof; region: string; endpoint: string }> {
  const { server } = to;
  const { res, json, sentAt } = await post(to, '/agent/v1/enroll/challenge', {});
  if (!res.ok) throw new Error(`the control plane refused an identity challenge (HTTP ${res.status}): ${errorOf(json).error ?? 'no reason given'}`);
  const challenge = enrollChallengeResponseSchema.safeParse(json);
  if (!challenge.success) throw new Error(`unexpected identity challenge from ${server}: ${challenge.error.issues[0]!.message}`);
  // The control plane checks X-Amz-Date against its own clock: learn the offset from its Date header.
  const clock = new ClockOffset();
  clock.observe(res.headers.get('date'), sentAt);
  const region = identityProofRegion(description, env);
  const endpoint = stsEndpointFor(region, env);
  try {
    const proof = await signIdentityProof({ challenge: challenge.data.challenge, region, endpoint, clock });
    return { proof, region, endpoint: endpoint.origin };
  } catch (err) {
    throw new Error(`the enrollment needs an AWS identity proof, but signing sts:GetCallerIdentity failed: ${((err as Error).message.split('\n')[0] ?? '').trim()}`, { cause: err });
  }
}

/**
 * Enrolls with the control plane at `server` using `token`, keeping the id and secret in
 * `stateDir`. Idempotent: with a state for the same server it does nothing.
 *
 * When the token requires an AWS identity proof (the server answers `code:
 * identity_proof_required`), or always with `awsIdentity`, it fetches a single-use challenge,
 * signs an sts:GetCallerIdentity request for the region's STS endpoint with the default
 * credential chain, and sends it as `identityProof`.
 * With `trust` (`--ca-file`), the HTTPS connection also accepts servers whose certificate one
 * of those CAs signed.
 * @throws Error with the server's reason (e.g. `the enrollment token is used up`).
 */
export async function enroll(options: {
  server: string;
  token: string;
  stateDir: string;
  description: AgentDescription;
  awsIdentity?: boolean | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  trust?: ServerTrust | undefined;
}): Promise<EnrollOutcome> {
  const server = options.server.replace(/\/+$/, '');
  const env = options.env ?? process.env;
  const existing = await readAgentState(options.stateDir);
  if (existing) {
    if (existing.server === server) return { status: 'already', state: existing };
    throw new Error(`${options.stateDir} holds an enrollment with ${existing.server}; use another --state-dir or remove agent.json to move this agent`);
  }
  const dispatcher = options.trust ? new HttpAgent({ connect: { ca: [...options.trust.ca] } }) : undefined;
  const to: Connection = { server, trust: options.trust, dispatcher };
  try {
    return await enrollWith(to, options, env);
  } finally {
    await dispatcher?.close();
  }
}

async function enrollWith(to: Connection, options: { token: string; stateDir: string; description: AgentDescription; awsIdentity?: boolean | undefined }, env: NodeJS.ProcessEnv): Promise<EnrollOutcome> {
  const { server } = to;
  const request = { token: options.token, description: options.description };
  let proved = options.awsIdentity ? await proveIdentity(to, options.description, env) : undefined;
  let { res, json } = await post(to, '/agent/v1/enroll', proved ? { ...request, identityProof: proved.proof } : request);
  if (!res.ok && !proved && errorOf(json).code === 'identity_proof_required') {
    proved = await proveIdentity(to, options.description, env);
    ({ res, json } = await post(to, '/agent/v1/enroll', { ...request, identityProof: proved.proof }));
  }
  if (!res.ok) throw new Error(`the control plane refused the enrollment (HTTP ${res.status}): ${errorOf(json).error ?? 'no reason given'}`);
  const parsed = enrollResponseSchema.safeParse(json);
  if (!parsed.success) throw new Error(`unexpected enrollment response from ${server}: ${parsed.error.issues[0]!.message}`);
  const state: AgentState = { server, agentId: parsed.data.agentId, agentSecret: parsed.data.agentSecret, enrolledAt: new Date().toISOString() };
  await writeAgentState(options.stateDir, state);
  return { status: 'enrolled', state, ...(proved ? { identityProof: { region: proved.region, endpoint: proved.endpoint } } : {}) };
}
