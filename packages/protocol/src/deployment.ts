/**
 * Where and under which names the agent is installed, in one place: the install script, the
 * packages (.deb/.rpm, systemd unit), the Helm chart's defaults, the dashboard's wizards and the
 * IAM trust policies all use these, so a copied command and a generated policy never disagree
 * (one namespace, one service account). Browser-safe: plain constants and pure functions.
 */

/** Host installs (EC2 and any Linux machine with systemd). */
export const HOST_INSTALL = {
  /** System user and group the agent runs as. */
  user: 'fleet-agent',
  /** State directory: agent.json (id + secret), config.json, the WALs; mode 0700. */
  stateDir: '/var/lib/fleet-agent',
  /** Configuration directory (the env file lives here). */
  configDir: '/etc/fleet-agent',
  /** Environment file the unit reads (FLEET_SERVER, FLEET_ENROLLMENT_TOKEN, …); mode 0600. */
  envFile: '/etc/fleet-agent/fleet-agent.env',
  /** The systemd unit's name. */
  unit: 'fleet-agent.service',
  /** Where install.sh puts the executable (packages use /usr/bin/fleet-agent). */
  binary: '/usr/local/bin/fleet-agent',
} as const;

/** Kubernetes installs (EKS): the Helm chart's defaults and every generated command. */
export const KUBERNETES_INSTALL = {
  /** Namespace of the agents (helm --namespace, kubectl -n, IRSA/Pod Identity subject). */
  namespace: 'fleet-system',
  /** Service account the agents run as (the IAM trust policy's subject). */
  serviceAccount: 'fleet-agent',
  /** Helm release name; the chart names its objects after it. */
  release: 'fleet-agent',
  /** Secret holding the enrollment token, and its key. */
  tokenSecret: 'fleet-agent-enrollment',
  tokenSecretKey: 'token',
  /** hostPath of the DaemonSet's state and WAL on each node. */
  stateHostPath: '/var/lib/fleet-agent',
} as const;

/** Path of the install script the control plane serves (no sign-in). */
export const INSTALL_SCRIPT_PATH = '/install.sh';

/** Prefix of the agent artifacts the control plane serves (no sign-in): `/downloads/<version>/<file>`. */
export const DOWNLOADS_PATH = '/downloads';

/** Name of the checksum manifest in each version's downloads (`sha256  file` lines, as sha256sum writes). */
export const DOWNLOAD_MANIFEST = 'SHA256SUMS';

/** URL of one downloadable file of `version` on the control plane at `server`. */
export function downloadUrl(server: string, version: string, file: string): string {
  return `${server.replace(/\/+$/, '')}${DOWNLOADS_PATH}/${encodeURIComponent(version)}/${encodeURIComponent(file)}`;
}

/** File names of one version's artifacts (as `npm run package:agent` writes them into dist/agent/<version>/). */
export function artifactNames(version: string) {
  return {
    /** Single-file CommonJS bundle for any Node ≥ 20 (`node fleet-agent-<v>.cjs …`). */
    bundle: `fleet-agent-${version}.cjs`,
    /** Self-contained executable (Node single-executable application), linux-x64. */
    executable: (arch: 'x64' | 'arm64') => `fleet-agent-${version}-linux-${arch}`,
    /** Optional native snappy add-on for the bundle/executable (loaded when next to it). */
    snappyAddon: (arch: 'x64' | 'arm64') => `snappy-${version}-linux-${arch}-gnu.node`,
    deb: (arch: 'amd64' | 'arm64') => `fleet-agent_${version}_${arch}.deb`,
    rpm: (arch: 'x86_64' | 'aarch64') => `fleet-agent-${version}-1.${arch}.rpm`,
    /** The Helm chart, packaged (helm install <release> <url-of-this-file>). */
    helmChart: `fleet-agent-${version}.tgz`,
    /** Plain manifests rendered from the chart with its defaults (kubectl apply -f). */
    manifests: `fleet-agent-${version}.yaml`,
    /** The systemd unit (deploy/systemd/fleet-agent.service), for install.sh. */
    systemdUnit: 'fleet-agent.service',
    /** The install script of this version (the one /install.sh serves, without a server filled in). */
    installScript: 'install.sh',
  } as const;
}

/** The one-liner that installs, enrolls and starts an agent on a host from the control plane at `server`. */
export function hostInstallCommand(server: string, options: { token: string; stateDir?: string | undefined; labels?: Readonly<Record<string, string>> | undefined }): string {
  const base = server.replace(/\/+$/, '');
  const args = [`--token ${shellQuote(options.token)}`];
  if (options.stateDir && options.stateDir !== HOST_INSTALL.stateDir) args.push(`--state-dir ${shellQuote(options.stateDir)}`);
  for (const [k, v] of Object.entries(options.labels ?? {})) args.push(`--label ${shellQuote(`${k}=${v}`)}`);
  return `curl -fsSL ${shellQuote(base + INSTALL_SCRIPT_PATH)} | sudo sh -s -- ${args.join(' ')}`;
}

/** Quotes `value` for a POSIX shell only when it needs it (plain words stay readable). */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
