/**
 * @fleet/aws — signing requests with SigV4 (`@smithy/signature-v4`, Node crypto), the
 * credential chain with refresh and AssumeRole+ExternalId chaining, clock-skew correction
 * from response `Date` headers, and classification of AWS error responses.
 */
export { ClockOffset, CLOCK_CORRECTION_THRESHOLD_MS } from './clock.js';
export {
  ManagedCredentials,
  callerIdentity,
  credentialProvidersTried,
  describeCredentialSource,
  REFRESH_BEFORE_EXPIRY_MS,
  type CredentialSettings,
  type CredentialStatus,
} from './credentials.js';
export { resolveDefaultRegion } from './default-region.js';
export { createRequestSigner, type RequestSigner, type RequestToSign } from './sign.js';
export { classifyResponse, classifyNetworkError, classifyError, type AwsErrorClass, type ClassifiedError } from './errors.js';
export { remedyFor, ampWorkspaceArn, imdsHopLimitCommand, type RemedyContext } from './remedies.js';
export * from './regions.js';
export * from './iam/index.js';
