/**
 * AWS regions for the region pickers (datalists): the same table the server validates with,
 * from `@fleet/aws/regions` (browser-safe: no AWS SDK behind that entry point).
 */
export { AWS_REGIONS, type AwsRegionInfo as RegionOption } from '@fleet/aws/regions';
