/**
 * Test doubles of the AWS services the fleet agent talks to, faithful enough to catch real
 * signing and credential bugs: an independent SigV4 verifier, a SigV4-verifying AMP remote-write
 * receiver, fake IMDSv2, STS and container-credentials endpoints, all backed by one
 * {@link CredentialAuthority}, plus the environment each credential scenario needs.
 *
 * Everything listens on 127.0.0.1 with a random port; nothing reaches a real network.
 */
import { startFakeContainerCredentials, type FakeContainerCredentials, type FakeContainerCredentialsOptions } from './container-credentials.js';
import { CredentialAuthority, type CredentialAuthorityOptions } from './credentials.js';
import { startFakeImds, type FakeImds, type FakeImdsOptions } from './imds.js';
import { startRemoteWriteReceiver, type RemoteWriteReceiver, type RemoteWriteReceiverOptions } from './remote-write-receiver.js';
import { startFakeSts, type FakeSts, type FakeStsOptions, type StsRole } from './sts.js';

export * from './container-credentials.js';
export * from './credentials.js';
export * from './ec2.js';
export * from './env.js';
export { waitUntil, type HttpFault } from './http.js';
export * from './imds.js';
export * from './remote-write-proto.js';
export * from './remote-write-receiver.js';
export * from './sdk-cjs.js';
export * from './sigv4.js';
export * from './sts.js';

/** Options of {@link startFakeAws}; each sub-object is passed to the matching fake (minus the authority). */
export interface FakeAwsOptions {
  /** Region of every fake (default `us-east-1`). */
  region?: string;
  authority?: CredentialAuthorityOptions;
  /** Roles of the fake STS. */
  roles?: StsRole[];
  imds?: Omit<FakeImdsOptions, 'authority'>;
  sts?: Omit<FakeStsOptions, 'authority' | 'roles'>;
  container?: Omit<FakeContainerCredentialsOptions, 'authority'>;
  receiver?: Omit<RemoteWriteReceiverOptions, 'credentials'>;
}

/** Every fake, started and sharing one authority. */
export interface FakeAws {
  authority: CredentialAuthority;
  imds: FakeImds;
  sts: FakeSts;
  container: FakeContainerCredentials;
  receiver: RemoteWriteReceiver;
  /** Closes every server. */
  close(): Promise<void>;
}

/** Starts the whole fake AWS (authority, IMDS, STS, container credentials, AMP receiver) in one call. */
export async function startFakeAws(options: FakeAwsOptions = {}): Promise<FakeAws> {
  const region = options.region ?? 'us-east-1';
  const authority = new CredentialAuthority(options.authority);
  const started: Array<{ close(): Promise<void> }> = [];
  try {
    const imds = await startFakeImds({ region, ...options.imds, authority });
    started.push(imds);
    const sts = await startFakeSts({ region, ...options.sts, roles: options.roles ?? [], authority });
    started.push(sts);
    const container = await startFakeContainerCredentials({ ...options.container, authority });
    started.push(container);
    const receiver = await startRemoteWriteReceiver({ region, ...options.receiver, credentials: authority });
    started.push(receiver);
    return {
      authority,
      imds,
      sts,
      container,
      receiver,
      close: async () => {
        await Promise.all(started.map((s) => s.close()));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
}
