/** What an AWS endpoint host says about signing: the SigV4 service name and region. */
export interface EndpointSigning {
  service: string;
  region: string;
}

const REGION = /^(?:us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov|us-iso|us-isob|eusc)-[a-z]+-\d{1,2}$/;

/** True for names shaped like an AWS region (`us-east-1`, `cn-north-1`, `us-gov-west-1`). */
export function isAwsRegionName(name: string): boolean {
  return REGION.test(name);
}

/** Endpoint prefixes whose signing name differs from the host's first label. */
const SIGNING_NAME: Record<string, string> = {
  'aps-workspaces': 'aps',
  'aps-workspaces-fips': 'aps',
  'logs-fips': 'logs',
  'firehose-fips': 'firehose',
  'kinesis-fips': 'kinesis',
  'monitoring-fips': 'monitoring',
};

/**
 * Infers service and region from an AWS endpoint host, e.g.
 * `aps-workspaces.us-east-1.amazonaws.com` → `{ service: 'aps', region: 'us-east-1' }`;
 * also VPC endpoint hosts (`vpce-….aps-workspaces.eu-west-1.vpce.amazonaws.com`).
 * Undefined for hosts that are not AWS endpoints (e.g. a proxy or 127.0.0.1).
 */
export function inferSigningFromHost(host: string): EndpointSigning | undefined {
  const labels = host.toLowerCase().split('.');
  const aws = labels.findIndex((l, i) => l === 'amazonaws' && labels[i + 1] === 'com');
  if (aws < 2) return undefined;
  let regionAt = aws - 1;
  if (labels[regionAt] === 'vpce') regionAt -= 1;
  const region = labels[regionAt]!;
  const prefix = labels[regionAt - 1]!;
  if (!isAwsRegionName(region) || !prefix) return undefined;
  return { service: SIGNING_NAME[prefix] ?? prefix, region };
}

/**
 * Compares a configured region with the one in the endpoint host. Returns a sentence naming
 * both when they differ (requests would fail with a signature/credential-scope error), else undefined.
 */
export function checkRegionAgainstHost(region: string, host: string): string | undefined {
  const inferred = inferSigningFromHost(host);
  if (!inferred || inferred.region === region) return undefined;
  return `region ${JSON.stringify(region)} does not match the endpoint's region ${JSON.stringify(inferred.region)} (host ${host}); use ${inferred.region} or the endpoint of ${region}`;
}
