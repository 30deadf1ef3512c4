import { loadSharedConfigFiles } from '@smithy/core/config';

/**
 * The region the AWS SDK would use when none is configured: AWS_REGION, AWS_DEFAULT_REGION, then
 * the `region` of the profile (AWS_PROFILE, else `default`) in the shared config files
 * (AWS_CONFIG_FILE / ~/.aws/config, AWS_SHARED_CREDENTIALS_FILE / ~/.aws/credentials).
 * Undefined when none says. The instance metadata is not asked (callers that want it do).
 */
export async function resolveDefaultRegion(env: NodeJS.ProcessEnv = process.env, profile?: string): Promise<string | undefined> {
  const fromEnv = env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim();
  if (fromEnv) return fromEnv;
  try {
    const { configFile, credentialsFile } = await loadSharedConfigFiles({
      ...(env.AWS_CONFIG_FILE ? { configFilepath: env.AWS_CONFIG_FILE } : {}),
      ...(env.AWS_SHARED_CREDENTIALS_FILE ? { filepath: env.AWS_SHARED_CREDENTIALS_FILE } : {}),
    });
    const name = profile ?? env.AWS_PROFILE ?? 'default';
    const region = configFile[name]?.region ?? credentialsFile[name]?.region;
    return region?.trim() || undefined;
  } catch {
    return undefined;
  }
}
